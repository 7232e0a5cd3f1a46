"""A linter for ``argocd-notifications-cm``: configuration that looks right but misbehaves.

Layer 1 (``argosy.core``), pure; standard library, ``gotpl`` (syntax check only) and sibling
modules. Every rule is documented in ``docs/notifications.md`` under its code:

========  ========  ===============================================================================
code      severity  finding
========  ========  ===============================================================================
NTF001    error     a key does not parse (YAML, trigger expression, template syntax, selector)
NTF002    warning   a service nobody subscribes to (no ConfigMap subscription names it)
NTF003    warning   a condition reads health without ``oncePer``: it re-fires whenever health flaps
NTF004    error/    a template puts a value into a JSON field without ``toJson``; ``error`` when the
          warning   value is free text (messages), ``warning`` for other fields
NTF005    warning   a setting with no effect (slack ``signingSecret``)
NTF006    warning   a ``when``/``oncePer`` reads a member of a field that is nil before the first sync
                    (``app.status.operationState.phase``) without ``?.`` or a ``!= nil`` guard
NTF007    error     a trigger sends a template that is not defined
NTF008    error     a subscription or ``defaultTriggers`` names a trigger that is not defined
NTF009    error     a subscription names a service that is not defined
NTF010    info      a template prints a label that may be missing (renders ``<no value>``)
NTF011    warning   a service refers to a ``$secret`` key the secret does not have
NTF012    warning   a service type Argosy cannot deliver to (every message to it fails)
NTF013    warning   ``service.teams``: Office 365 connectors were retired on 2026-03-31
NTF014    error     a recipient of a teams/teams-workflows/pagerdutyv2 service that is not a key of its
                    ``recipientUrls``/``serviceKeys``
NTF015    error     a ``pagerdutyv2`` template block PagerDuty rejects (no summary or source, or a
                    severity other than critical, error, warning, info)
========  ========  ===============================================================================
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import gotpl

from argosy.core.notify.config import (
    NotificationsConfig,
    Subscription,
    parse_config,
    secret_references,
)
from argosy.core.notify.expr import ExprError, Node, compile_expr
from argosy.core.notify.templates import template_environment

__all__ = ["Finding", "Severity", "lint_config", "lint_notifications_data"]


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem under one ConfigMap key (``trigger.on-deployed``, ``service.slack``...)."""

    code: str
    severity: Severity
    message: str
    key: str

    def __str__(self) -> str:
        return f"{self.key}: {self.severity.value}: {self.code} {self.message}"


# Fields that are nil until something happens (first sync, deletion, Argosy events).
NILABLE_FIELDS = frozenset(
    {
        "operationState",
        "syncResult",
        "operation",
        "deletionTimestamp",
        "labels",
        "annotations",
        "argosy",
        "drift",
        "selfHeal",
        "rollback",
    }
)
SUPPORTED_SERVICE_TYPES = ("slack", "email", "webhook", "teams", "teams-workflows", "pagerdutyv2")
"""The service types ``argosy.adapters.notifiers`` delivers to."""
RECIPIENT_MAPS: Mapping[str, str] = {
    "teams": "recipientUrls",
    "teams-workflows": "recipientUrls",
    "pagerdutyv2": "serviceKeys",
}
"""Service types whose recipient must be a key of one of their settings."""
PAGERDUTY_SEVERITIES = ("critical", "error", "warning", "info")
NO_EFFECT_SETTINGS: Mapping[str, Mapping[str, str]] = {
    "slack": {
        "signingSecret": "it only verified inbound requests for the retired argocd-notifications bot; "
        "sending never uses it",
    },
}
_ESCAPING_FUNCTIONS = frozenset({"toJson", "toRawJson", "toPrettyJson", "quote", "squote", "js"})
_CONTROL_WORDS = frozenset(
    {"if", "else", "end", "range", "with", "define", "template", "block", "break", "continue"}
)
_SAFE_SUFFIXES = (
    ".metadata.name",
    ".metadata.namespace",
    ".spec.project",
    ".spec.destination.namespace",
    ".spec.destination.server",
    ".spec.destination.name",
    ".sync.status",
    ".health.status",
    ".revision",
    ".phase",
    ".repoURL",
    ".targetRevision",
    ".argocdUrl",
    ".startedAt",
    ".finishedAt",
    ".lastTransitionTime",
    ".type",
    ".count",
)
_FREE_TEXT = re.compile(r"message|description|reason|annotations|Message|Author", re.IGNORECASE)
_ACTION = re.compile(r"\{\{(-?)(.*?)(-?)\}\}", re.DOTALL)
_PATH = re.compile(r"(\$[A-Za-z0-9_]*|(?<![\w)])\.)[A-Za-z0-9_.]*")
_LABEL = re.compile(r"\.app\.metadata\.labels\.([A-Za-z0-9_]+)")
_TEXT_FIELDS = frozenset({"message", "subject", "title", "summary", "text"})


# --------------------------------------------------------------------------------------- triggers


def _path(node: Node) -> str | None:
    if node.kind == "name":
        return str(node.args[0])
    if node.kind == "member":
        base = _path(node.args[0])
        return None if base is None else f"{base}.{node.args[1]}"
    if node.kind == "chain":
        return _path(node.args[0])
    return None


def _guards(node: Node) -> set[str]:
    if node.kind == "binary":
        op, left, right = node.args
        if op in ("and", "&&"):
            return _guards(left) | _guards(right)
        if op == "!=":
            for a, b in ((left, right), (right, left)):
                if b.kind == "lit" and b.args[0] is None:
                    path = _path(a)
                    if path is not None:
                        return {path}
    return set()


def _unsafe_members(node: Node, guarded: frozenset[str]) -> Iterator[str]:
    if node.kind == "binary" and node.args[0] in ("and", "&&"):
        _, left, right = node.args
        yield from _unsafe_members(left, guarded)
        yield from _unsafe_members(right, guarded | _guards(left))
        return
    if node.kind == "member" and not node.args[2]:
        obj = node.args[0]
        base = _path(obj)
        if base is not None and base.rsplit(".", 1)[-1] in NILABLE_FIELDS and base not in guarded:
            yield f"{base}.{node.args[1]}"
    for arg in node.args:
        if isinstance(arg, Node):
            yield from _unsafe_members(arg, guarded)
        elif isinstance(arg, tuple):
            for item in arg:
                if isinstance(item, Node):
                    yield from _unsafe_members(item, guarded)
                elif isinstance(item, tuple):
                    yield from (
                        m for sub in item if isinstance(sub, Node) for m in _unsafe_members(sub, guarded)
                    )


def nil_unsafe_paths(expression: str) -> list[str]:
    """Member reads in ``expression`` that fail with ``cannot fetch X from <nil>`` on a fresh app."""
    try:
        tree = compile_expr(expression).tree
    except ExprError:
        return []
    seen: list[str] = []
    for path in _unsafe_members(tree, frozenset()):
        if path not in seen:
            seen.append(path)
    return seen


def _reads_health(expression: str) -> bool:
    return re.search(r"\bhealth\b", expression) is not None


# --------------------------------------------------------------------------------------- templates


def _leaves(value: Any, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, Mapping):
        for k, v in value.items():
            yield from _leaves(v, f"{path}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _leaves(v, f"{path}[{i}]")


def _is_json_field(path: str, text: str) -> bool:
    last = path.rsplit(".", 1)[-1]
    return last not in _TEXT_FIELDS and text.lstrip()[:1] in ("[", "{")


def _value_paths(action: str) -> list[str]:
    return [m.group(0) for m in _PATH.finditer(action) if m.group(0) not in (".", "$")]


def _unescaped_json_values(text: str) -> Iterator[tuple[str, bool]]:
    """(action text, inside a JSON string?) for each value printed without JSON escaping."""
    in_string = False
    pos = 0
    for match in _ACTION.finditer(text):
        literal = text[pos : match.start()]
        i = 0
        while i < len(literal):
            if literal[i] == "\\":
                i += 2
                continue
            if literal[i] == '"':
                in_string = not in_string
            i += 1
        pos = match.end()
        action = match.group(2).strip()
        words = action.split()
        if not words or action.startswith("/*") or words[0] in _CONTROL_WORDS or ":=" in action:
            continue
        if any(w.strip("()|") in _ESCAPING_FUNCTIONS for w in re.split(r"[\s|()]+", action)):
            continue
        if _value_paths(action):
            yield action, in_string


def _lint_template_text(key: str, path: str, text: str, env: gotpl.Environment) -> Iterator[Finding]:
    if "{{" not in text:
        return
    try:
        env.from_string(text, name=path)
    except gotpl.TemplateError as exc:
        yield Finding("NTF001", Severity.ERROR, f"{path}: {' '.join(str(exc).split())}", key)
        return
    if _is_json_field(path, text):
        for action, in_string in _unescaped_json_values(text):
            paths = _value_paths(action)
            if all(p.endswith(_SAFE_SUFFIXES) or ".labels." in p for p in paths):
                continue
            free_text = any(_FREE_TEXT.search(p) for p in paths)
            where = "inside a JSON string" if in_string else "as a bare JSON value"
            yield Finding(
                "NTF004",
                Severity.ERROR if free_text else Severity.WARNING,
                f"{path}: {{{{{action}}}}} is printed {where} without escaping; a quote or newline "
                f"in the value breaks the JSON. Use {{{{ {paths[0]} | toJson }}}} in place of the "
                f'quoted "{{{{{action}}}}}"',
                key,
            )
    for match in _LABEL.finditer(text):
        start = text.rfind("{{", 0, match.start())
        end = text.find("}}", match.end())
        action = text[start:end]
        if "default" in action or re.search(r"\b(if|with)\b", action):
            continue
        yield Finding(
            "NTF010",
            Severity.INFO,
            f"{path}: label {match.group(1)!r} renders '<no value>' on apps without it; "
            f'use {{{{ .app.metadata.labels.{match.group(1)} | default "unknown" }}}}',
            key,
        )


def _lint_pagerduty_block(template_name: str, fields: Any) -> Iterator[Finding]:
    if fields is None:
        return
    key = f"template.{template_name}"
    if not isinstance(fields, Mapping):
        yield Finding("NTF015", Severity.ERROR, "pagerdutyv2 must be a mapping of fields", key)
        return
    missing = [f for f in ("summary", "source") if not str(fields.get(f) or "").strip()]
    if missing:
        yield Finding(
            "NTF015",
            Severity.ERROR,
            f"pagerdutyv2 has no {' or '.join(missing)}: PagerDuty requires both, every event is rejected",
            key,
        )
    severity = fields.get("severity")
    text = severity.strip() if isinstance(severity, str) else ""
    if "{{" not in text and text.lower() not in PAGERDUTY_SEVERITIES:
        yield Finding(
            "NTF015",
            Severity.ERROR,
            f"pagerdutyv2.severity is {text!r}; PagerDuty accepts {', '.join(PAGERDUTY_SEVERITIES)}",
            key,
        )


# --------------------------------------------------------------------------------------- config


def lint_config(
    config: NotificationsConfig,
    *,
    annotation_subscriptions: Sequence[Subscription] = (),
    secrets: Mapping[str, str] | None = None,
) -> list[Finding]:
    """Lint a parsed configuration.

    ``annotation_subscriptions`` are subscriptions found on Applications/AppProjects (the shell
    collects them); services they name count as used.
    """
    findings: list[Finding] = [Finding("NTF001", Severity.ERROR, e.message, e.key) for e in config.errors]
    subscriptions = list(config.subscriptions) + list(annotation_subscriptions)
    used_services = {d.service for s in subscriptions for d in s.destinations}

    for name, service in sorted(config.services.items()):
        if name not in used_services:
            findings.append(
                Finding(
                    "NTF002",
                    Severity.WARNING,
                    f"service {name!r} ({service.type}) is defined but nothing subscribes to it; add a "
                    f"recipient {name!r}"
                    + (":<recipient>" if service.type != "webhook" else "")
                    + " to a subscription or a notifications.argoproj.io/subscribe.<trigger>."
                    f"{name} annotation",
                    service.key,
                )
            )
        if service.type not in SUPPORTED_SERVICE_TYPES:
            hint = "; use service.pagerdutyv2 (Events API v2)" if service.type == "pagerduty" else ""
            findings.append(
                Finding(
                    "NTF012",
                    Severity.WARNING,
                    f"service type {service.type!r} is not supported by Argosy: every message to "
                    f"{name!r} fails (supported: {', '.join(SUPPORTED_SERVICE_TYPES)}){hint}",
                    service.key,
                )
            )
        if service.type == "teams":
            findings.append(
                Finding(
                    "NTF013",
                    Severity.WARNING,
                    "Microsoft retired Office 365 connectors (the incoming webhooks service.teams posts "
                    "to) on 2026-03-31; create a Workflows webhook and use service.teams-workflows",
                    service.key,
                )
            )
        for setting, why in NO_EFFECT_SETTINGS.get(service.type, {}).items():
            if setting in service.settings:
                findings.append(
                    Finding("NTF005", Severity.WARNING, f"{setting!r} has no effect: {why}", service.key)
                )
        if secrets is not None:
            missing = [ref for ref in secret_references(service) if ref not in secrets]
            if missing:
                findings.append(
                    Finding(
                        "NTF011",
                        Severity.WARNING,
                        "secret keys not found in argocd-notifications-secret: "
                        + ", ".join(f"${m}" for m in missing),
                        service.key,
                    )
                )

    for name, trigger in sorted(config.triggers.items()):
        key = f"trigger.{name}"
        for index, cond in enumerate(trigger.conditions):
            for template_ref in cond.send:
                if template_ref not in config.templates:
                    findings.append(
                        Finding(
                            "NTF007",
                            Severity.ERROR,
                            f"condition {index} sends undefined template {template_ref!r}",
                            key,
                        )
                    )
            if not cond.once_per and _reads_health(cond.when):
                findings.append(
                    Finding(
                        "NTF003",
                        Severity.WARNING,
                        f"condition {index} reads health and has no oncePer: it fires again each time "
                        "health flaps (Healthy -> Progressing -> Healthy); add "
                        "oncePer: app.status.operationState?.syncResult?.revision",
                        key,
                    )
                )
            for what, expression in (("when", cond.when), ("oncePer", cond.once_per)):
                unsafe = nil_unsafe_paths(expression) if expression else []
                if unsafe:
                    findings.append(
                        Finding(
                            "NTF006",
                            Severity.WARNING,
                            f"condition {index} {what} reads {', '.join(unsafe)}, which errors with "
                            "'cannot fetch ... from <nil>' while the parent is nil; use ?. "
                            "(e.g. app.status.operationState?.phase) or guard with '!= nil and'",
                            key,
                        )
                    )

    referenced: list[tuple[str, str]] = []
    for sub in subscriptions:
        where = "subscriptions" if sub.source == "configmap" else f"{sub.source} annotation"
        referenced.extend((t, where) for t in sub.triggers)
        for dest in sub.destinations:
            target = config.services.get(dest.service)
            setting = RECIPIENT_MAPS.get(target.type, "") if target is not None else ""
            if target is not None and setting:
                known = target.settings.get(setting)
                if not isinstance(known, Mapping) or dest.recipient not in known:
                    configured = ", ".join(sorted(map(str, known))) if isinstance(known, Mapping) else "none"
                    findings.append(
                        Finding(
                            "NTF014",
                            Severity.ERROR,
                            f"recipient {dest.service}:{dest.recipient} is not a key of "
                            f"service.{target.type} {setting} ({configured}): every message to it fails",
                            where,
                        )
                    )
            if dest.service not in config.services:
                findings.append(
                    Finding(
                        "NTF009",
                        Severity.ERROR,
                        f"recipient {dest.service}:{dest.recipient} names undefined service {dest.service!r}",
                        where,
                    )
                )
    referenced.extend((t, "defaultTriggers") for t in config.default_triggers)
    for service_name, names in config.default_triggers_by_service.items():
        referenced.extend((t, f"defaultTriggers.{service_name}") for t in names)
    for trigger_name, where in referenced:
        if trigger_name not in config.triggers:
            findings.append(Finding("NTF008", Severity.ERROR, f"undefined trigger {trigger_name!r}", where))

    env = template_environment(datetime(2000, 1, 1, tzinfo=UTC))
    for template_name, template in sorted(config.templates.items()):
        for path, text in _leaves(template.body, template_name):
            findings.extend(_lint_template_text(f"template.{template_name}", path, text, env))
        findings.extend(_lint_pagerduty_block(template_name, template.body.get("pagerdutyv2")))

    unique: list[Finding] = []
    for finding in findings:
        if finding not in unique:
            unique.append(finding)
    return unique


def lint_notifications_data(
    data: Mapping[str, str],
    *,
    annotation_subscriptions: Sequence[Subscription] = (),
    secrets: Mapping[str, str] | None = None,
) -> list[Finding]:
    """Parse ``argocd-notifications-cm`` data and lint it."""
    return lint_config(parse_config(data), annotation_subscriptions=annotation_subscriptions, secrets=secrets)
