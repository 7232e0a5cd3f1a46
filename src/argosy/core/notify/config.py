"""The ``argocd-notifications-cm`` model: services, templates, triggers, subscriptions, context.

Layer 1 (``argosy.core``), pure; standard library, PyYAML (on strings in memory) and sibling
modules. :func:`parse_config` never raises on bad user data: each unparsable key becomes a
:class:`ConfigError` in :attr:`NotificationsConfig.errors` (the linter reports them) and the rest
of the configuration still loads.

Service settings keep ``$key`` secret references unresolved; :func:`resolve_settings` substitutes
them from a secret mapping into a :class:`ResolvedSettings` whose ``repr`` never shows values.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

from argosy.core.notify.expr import Expr, ExprError, compile_expr

__all__ = [
    "ANNOTATION_PREFIX",
    "SUBSCRIPTIONS_ANNOTATION",
    "Condition",
    "ConfigError",
    "Destination",
    "LabelSelector",
    "NotificationTemplate",
    "NotificationsConfig",
    "ResolvedSettings",
    "Service",
    "Subscription",
    "Trigger",
    "annotation_subscriptions",
    "parse_config",
    "parse_label_selector",
    "resolve_settings",
]

ANNOTATION_PREFIX = "notifications.argoproj.io/subscribe."
SUBSCRIPTIONS_ANNOTATION = "notifications.argoproj.io/subscriptions"
_SECRET_REF = re.compile(r"\$([A-Za-z0-9_.\-]+)")


@dataclass(frozen=True, slots=True)
class ConfigError:
    """A ConfigMap key that could not be parsed."""

    key: str
    message: str


@dataclass(frozen=True, slots=True)
class Service:
    """``service.<type>`` (name = type) or ``service.<type>.<name>``; settings as written."""

    name: str
    type: str
    settings: Mapping[str, Any]
    key: str


@dataclass(frozen=True, slots=True)
class ResolvedSettings:
    """Service settings with ``$key`` references substituted; the values never appear in ``repr``."""

    service: str
    values: Mapping[str, Any] = field(repr=False)
    unresolved: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class NotificationTemplate:
    """``template.<name>``: ``message`` plus per-service blocks (``email``, ``slack``, ``webhook``...)."""

    name: str
    body: Mapping[str, Any]

    @property
    def message(self) -> str | None:
        value = self.body.get("message")
        return value if isinstance(value, str) else None


@dataclass(frozen=True, slots=True)
class Condition:
    """One entry of a trigger: ``when`` (expr-lang), ``send`` (template names), ``oncePer``."""

    when: str
    send: tuple[str, ...]
    once_per: str = ""
    description: str = ""
    when_expr: Expr | None = field(default=None, compare=False, repr=False)
    once_per_expr: Expr | None = field(default=None, compare=False, repr=False)
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Trigger:
    name: str
    conditions: tuple[Condition, ...]


@dataclass(frozen=True, slots=True)
class Destination:
    """Where to send: a service *name* and a recipient (``""`` for webhooks)."""

    service: str
    recipient: str


@dataclass(frozen=True, slots=True)
class Subscription:
    """A subscription from the ConfigMap or an annotation; ``triggers == ()`` means the defaults."""

    destinations: tuple[Destination, ...]
    triggers: tuple[str, ...] = ()
    selector: str = ""
    source: str = "configmap"


@dataclass(frozen=True, slots=True)
class NotificationsConfig:
    services: Mapping[str, Service] = field(default_factory=dict)
    templates: Mapping[str, NotificationTemplate] = field(default_factory=dict)
    triggers: Mapping[str, Trigger] = field(default_factory=dict)
    default_triggers: tuple[str, ...] = ()
    default_triggers_by_service: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    subscriptions: tuple[Subscription, ...] = ()
    context: Mapping[str, Any] = field(default_factory=dict)
    errors: tuple[ConfigError, ...] = ()

    def defaults_for(self, service: str) -> tuple[str, ...]:
        """The triggers a subscription without triggers gets for ``service``."""
        return self.default_triggers_by_service.get(service, self.default_triggers)


def _load_yaml(text: str) -> Any:
    return yaml.safe_load(text) if text.strip() else None


def _str_list(value: Any, what: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise ValueError(f"{what} must be a list of strings")


def parse_destination(recipient: str) -> Destination:
    """``slack:channel`` -> (slack, channel); ``deployment-tracker`` -> (deployment-tracker, "")."""
    service, sep, rest = recipient.partition(":")
    return Destination(service.strip(), rest.strip() if sep else "")


def _parse_condition(raw: Any) -> Condition:
    if not isinstance(raw, Mapping):
        raise ValueError("each condition must be a mapping with when/send")
    when = raw.get("when", "")
    once_per = raw.get("oncePer", "") or ""
    when_text = "true" if when is True else ("false" if when is False else str(when or ""))
    send = _str_list(raw.get("send"), "send")
    error: str | None = None
    when_expr = once_expr = None
    try:
        when_expr = compile_expr(when_text)
        once_expr = compile_expr(str(once_per)) if once_per else None
    except ExprError as exc:
        error = str(exc)
    return Condition(
        when=when_text,
        send=send,
        once_per=str(once_per),
        description=str(raw.get("description", "") or ""),
        when_expr=when_expr,
        once_per_expr=once_expr,
        error=error,
    )


def parse_trigger(name: str, text: str) -> Trigger:
    raw = _load_yaml(text)
    if raw is None:
        raw = []
    if not isinstance(raw, list):
        raise ValueError("a trigger is a list of conditions")
    return Trigger(name, tuple(_parse_condition(c) for c in raw))


def parse_template(name: str, text: str) -> NotificationTemplate:
    raw = _load_yaml(text)
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise ValueError("a template is a mapping (message, email, slack, webhook, ...)")
    return NotificationTemplate(name, dict(raw))


def _parse_subscriptions(text: str, source: str = "configmap") -> tuple[Subscription, ...]:
    raw = _load_yaml(text)
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise ValueError("subscriptions must be a list")
    out: list[Subscription] = []
    for item in raw:
        if not isinstance(item, Mapping):
            raise ValueError("each subscription must be a mapping")
        selector = item.get("selector", "") or ""
        if not isinstance(selector, str):
            raise ValueError("selector must be a label-selector string")
        parse_label_selector(selector)
        recipients = _str_list(item.get("recipients"), "recipients")
        out.append(
            Subscription(
                destinations=tuple(parse_destination(r) for r in recipients),
                triggers=_str_list(item.get("triggers"), "triggers"),
                selector=selector,
                source=source,
            )
        )
    return tuple(out)


def parse_config(data: Mapping[str, str]) -> NotificationsConfig:
    """Parse ``argocd-notifications-cm`` ``data``; bad keys become :class:`ConfigError` entries."""
    services: dict[str, Service] = {}
    templates: dict[str, NotificationTemplate] = {}
    triggers: dict[str, Trigger] = {}
    default_triggers: tuple[str, ...] = ()
    by_service: dict[str, tuple[str, ...]] = {}
    subscriptions: tuple[Subscription, ...] = ()
    context: dict[str, Any] = {}
    errors: list[ConfigError] = []
    for key in sorted(data):
        text = data[key]
        try:
            if not isinstance(text, str):
                raise ValueError("ConfigMap values must be strings")
            if key.startswith("service."):
                rest = key[len("service.") :]
                stype, _, name = rest.partition(".")
                settings = _load_yaml(text) or {}
                if not isinstance(settings, Mapping):
                    raise ValueError("service settings must be a mapping")
                services[name or stype] = Service(name or stype, stype, dict(settings), key)
            elif key.startswith("template."):
                name = key[len("template.") :]
                templates[name] = parse_template(name, text)
            elif key.startswith("trigger."):
                name = key[len("trigger.") :]
                triggers[name] = parse_trigger(name, text)
                for i, cond in enumerate(triggers[name].conditions):
                    if cond.error:
                        errors.append(ConfigError(key, f"condition {i}: {cond.error}"))
            elif key == "defaultTriggers":
                default_triggers = _str_list(_load_yaml(text), key)
            elif key.startswith("defaultTriggers."):
                by_service[key[len("defaultTriggers.") :]] = _str_list(_load_yaml(text), key)
            elif key == "subscriptions":
                subscriptions = _parse_subscriptions(text)
            elif key == "context":
                loaded = _load_yaml(text) or {}
                if not isinstance(loaded, Mapping):
                    raise ValueError("context must be a mapping")
                context = dict(loaded)
        except (yaml.YAMLError, ValueError) as exc:
            errors.append(ConfigError(key, _short(exc)))
    return NotificationsConfig(
        services=services,
        templates=templates,
        triggers=triggers,
        default_triggers=default_triggers,
        default_triggers_by_service=by_service,
        subscriptions=subscriptions,
        context=context,
        errors=tuple(errors),
    )


def _short(exc: Exception) -> str:
    return " ".join(str(exc).split())


def _substitute(value: Any, secrets: Mapping[str, str], missing: set[str]) -> Any:
    if isinstance(value, str):

        def repl(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in secrets:
                return secrets[name]
            missing.add(name)
            return match.group(0)

        return _SECRET_REF.sub(repl, value)
    if isinstance(value, Mapping):
        return {k: _substitute(v, secrets, missing) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, secrets, missing) for v in value]
    return value


def resolve_settings(service: Service, secrets: Mapping[str, str]) -> ResolvedSettings:
    """Substitute ``$key`` references from ``argocd-notifications-secret`` data (already decoded)."""
    missing: set[str] = set()
    values = _substitute(service.settings, secrets, missing)
    return ResolvedSettings(service.name, values, tuple(sorted(missing)))


def secret_references(service: Service) -> tuple[str, ...]:
    """The ``$key`` names a service's settings refer to."""
    found: set[str] = set()
    _substitute(service.settings, {}, found)
    return tuple(sorted(found))


# --------------------------------------------------------------------------------------- selectors

_SELECTOR_TOKEN = re.compile(r"\s*(!=|==|=|!|\(|\)|,|[A-Za-z0-9_.\-/]+)")


@dataclass(frozen=True, slots=True)
class LabelSelector:
    """A parsed Kubernetes label selector: ``(key, op, values)`` requirements, all must hold."""

    requirements: tuple[tuple[str, str, tuple[str, ...]], ...] = ()

    def matches(self, labels: Mapping[str, Any] | None) -> bool:
        labels = labels or {}
        for key, op, values in self.requirements:
            present = key in labels
            value = str(labels.get(key, ""))
            ok = {
                "=": present and value in values,
                "in": present and value in values,
                "!=": not present or value not in values,
                "notin": not present or value not in values,
                "exists": present,
                "!": not present,
            }[op]
            if not ok:
                return False
        return True


def parse_label_selector(text: str) -> LabelSelector:
    """Parse ``a=b,c!=d,e in (x,y),f notin (z),g,!h``; raises ``ValueError`` on bad syntax."""
    tokens: list[str] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        match = _SELECTOR_TOKEN.match(text, pos)
        if match is None:
            raise ValueError(f"invalid label selector {text!r} at position {pos}")
        tokens.append(match.group(1))
        pos = match.end()
    reqs: list[tuple[str, str, tuple[str, ...]]] = []
    i = 0

    def take() -> str:
        nonlocal i
        if i >= len(tokens):
            raise ValueError(f"invalid label selector {text!r}: unexpected end")
        i += 1
        return tokens[i - 1]

    while i < len(tokens):
        tok = take()
        if tok == "!":
            reqs.append((take(), "!", ()))
        else:
            key = tok
            nxt = tokens[i] if i < len(tokens) else ","
            if nxt in ("=", "==", "!="):
                take()
                value = take() if i < len(tokens) and tokens[i] not in (",",) else ""
                reqs.append((key, "!=" if nxt == "!=" else "=", (value,)))
            elif nxt in ("in", "notin"):
                take()
                if take() != "(":
                    raise ValueError(f"invalid label selector {text!r}: expected '('")
                values: list[str] = []
                while (tok2 := take()) != ")":
                    if tok2 != ",":
                        values.append(tok2)
                reqs.append((key, nxt, tuple(values)))
            elif nxt == ",":
                reqs.append((key, "exists", ()))
            else:
                raise ValueError(f"invalid label selector {text!r} near {nxt!r}")
        if i < len(tokens):
            if tokens[i] != ",":
                raise ValueError(f"invalid label selector {text!r}: expected ','")
            i += 1
    return LabelSelector(tuple(reqs))


# --------------------------------------------------------------------------------------- annotations


def _split_recipients(value: str) -> tuple[str, ...]:
    parts = [p.strip() for p in re.split(r"[;,]", value)]
    kept = tuple(p for p in parts if p)
    return kept or ("",)


def annotation_subscriptions(
    annotations: Mapping[str, str] | None, *, source: str = "app"
) -> tuple[tuple[Subscription, ...], tuple[ConfigError, ...]]:
    """Subscriptions declared on an Application or AppProject.

    * ``notifications.argoproj.io/subscribe.<trigger>.<service>: r1;r2``
    * ``notifications.argoproj.io/subscribe.<service>: r1`` (the default triggers)
    * ``notifications.argoproj.io/subscriptions``: YAML list of
      ``{trigger: [..], destinations: [{service, recipients: [..]}]}``
    """
    subs: list[Subscription] = []
    errors: list[ConfigError] = []
    for key in sorted(annotations or {}):
        value = str((annotations or {})[key])
        if key.startswith(ANNOTATION_PREFIX):
            parts = key[len(ANNOTATION_PREFIX) :].split(".")
            if len(parts) == 1 and parts[0]:
                trigger: tuple[str, ...] = ()
                service = parts[0]
            elif len(parts) == 2 and all(parts):
                trigger, service = (parts[0],), parts[1]
            else:
                errors.append(
                    ConfigError(key, "expected subscribe.<trigger>.<service> or subscribe.<service>")
                )
                continue
            destinations = tuple(Destination(service, r) for r in _split_recipients(value))
            subs.append(Subscription(destinations, trigger, "", source))
        elif key == SUBSCRIPTIONS_ANNOTATION:
            try:
                subs.extend(_yaml_annotation(value, source))
            except (yaml.YAMLError, ValueError) as exc:
                errors.append(ConfigError(key, _short(exc)))
    return tuple(subs), tuple(errors)


def _yaml_annotation(text: str, source: str) -> Iterable[Subscription]:
    raw = _load_yaml(text) or []
    if not isinstance(raw, list):
        raise ValueError("the subscriptions annotation must be a YAML list")
    for item in raw:
        if not isinstance(item, Mapping):
            raise ValueError("each subscription must be a mapping")
        triggers = _str_list(item.get("trigger"), "trigger")
        destinations: list[Destination] = []
        for dest in item.get("destinations") or []:
            if not isinstance(dest, Mapping) or not isinstance(dest.get("service"), str):
                raise ValueError("each destination needs a service")
            recipients: Sequence[str] = _str_list(dest.get("recipients"), "recipients") or ("",)
            destinations.extend(Destination(dest["service"], r) for r in recipients)
        yield Subscription(tuple(destinations), triggers, "", source)
