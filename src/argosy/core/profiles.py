"""Environment sync-policy profiles (spec §5.1, the ``sync-policies`` ConfigMap) and their merge.

Layer 1 (``argosy.core``): pure; PyYAML on text in memory only.

The ConfigMap holds one key per environment, ``<env>.yaml``, whose YAML has a ``syncPolicy`` in
the Application's own shape. An Application picks a profile with a label (``environment`` by
default). :func:`effective_sync_policy` merges the profile under the Application's own
``spec.syncPolicy`` field by field, the Application winning, and records where each field came
from: ``application``, ``profile:<name>`` or ``default`` (Argo CD's default applies). The rules are
documented in docs/profiles.md.

This is an Argosy extension; Argo CD has no such ConfigMap (argocd-semantics.md §5).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

import yaml

from argosy.model.application import (
    Application,
    ApplicationCondition,
    ArgosyStatus,
    Automated,
    Backoff,
    ModelError,
    RetryStrategy,
    SyncPolicy,
)

__all__ = [
    "CONDITION_PROFILE_WARNING",
    "DEFAULT_LABEL_KEY",
    "ORIGIN_APPLICATION",
    "ORIGIN_DEFAULT",
    "EffectivePolicy",
    "Profile",
    "ProfileError",
    "effective_sync_policy",
    "merge_sync_options",
    "parse_sync_policies",
    "profile_origin",
]

DEFAULT_LABEL_KEY = "environment"
ORIGIN_APPLICATION = "application"
ORIGIN_DEFAULT = "default"
CONDITION_PROFILE_WARNING = "SyncPolicyProfileWarning"

_FORCE_WARNING = (
    "Force=true in syncOptions (from {origin}) is not read by Argo CD at application level; Argosy "
    "honours it: every changed resource is deleted and re-created"
)


class ProfileError(ValueError):
    """A malformed ``sync-policies`` ConfigMap; the message names the data key and field."""


def profile_origin(name: str) -> str:
    return f"profile:{name}"


@dataclass(frozen=True, slots=True)
class Profile:
    """One environment profile: the ``syncPolicy`` under data key ``<name>.yaml``."""

    name: str
    sync_policy: SyncPolicy


def parse_sync_policies(configmap: Mapping[str, Any]) -> Mapping[str, Profile]:
    """Read the ``sync-policies`` ConfigMap (the whole object, or just its ``data`` mapping).

    Keys not ending in ``.yaml``/``.yml`` are ignored. A key whose YAML is not an object with a
    ``syncPolicy`` object raises :class:`ProfileError` naming the key.
    """
    data = configmap.get("data") if "data" in configmap or "kind" in configmap else configmap
    if data is None:
        return MappingProxyType({})
    if not isinstance(data, Mapping):
        raise ProfileError("sync-policies: data must be an object")
    profiles: dict[str, Profile] = {}
    for key in sorted(data):
        if not isinstance(key, str):
            continue
        name = key.removesuffix(".yaml") if key.endswith(".yaml") else key.removesuffix(".yml")
        if name == key or not name:
            continue
        text = data[key]
        if not isinstance(text, str):
            raise ProfileError(f"sync-policies data[{key}]: expected YAML text")
        try:
            doc = yaml.safe_load(text)
        except yaml.YAMLError as err:
            raise ProfileError(f"sync-policies data[{key}]: invalid YAML: {err}") from None
        if not isinstance(doc, Mapping) or not isinstance(doc.get("syncPolicy"), Mapping):
            raise ProfileError(f"sync-policies data[{key}]: expected an object with a syncPolicy object")
        try:
            policy = SyncPolicy.from_dict(doc["syncPolicy"], f"data[{key}].syncPolicy")
        except ModelError as err:
            raise ProfileError(f"sync-policies {err}") from None
        profiles[name] = Profile(name=name, sync_policy=policy)
    return MappingProxyType(profiles)


@dataclass(frozen=True, slots=True)
class EffectivePolicy:
    """The merged sync policy of one Application and where each field came from.

    ``origin`` maps field paths (``automated``, ``automated.prune``, ``syncOptions.PruneLast``,
    ``retry.limit``, ``retry.backoff.duration``, ``managedNamespaceMetadata``) to ``application``,
    ``profile:<name>`` or ``default``. ``condition`` is set when the label names no profile.
    ``warnings`` are for the engine to log/record (e.g. app-level ``Force=true``).
    """

    policy: SyncPolicy
    origin: Mapping[str, str]
    profile: str = ""
    condition: ApplicationCondition | None = None
    warnings: tuple[str, ...] = ()
    option_values: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def automated(self) -> bool:
        return self.policy.automation_enabled

    @property
    def prune(self) -> bool:
        a = self.policy.automated
        return bool(a is not None and a.prune)

    @property
    def self_heal(self) -> bool:
        a = self.policy.automated
        return bool(a is not None and a.self_heal)

    @property
    def allow_empty(self) -> bool:
        a = self.policy.automated
        return bool(a is not None and a.allow_empty)

    @property
    def force(self) -> bool:
        """App-level ``Force=true`` (Argo CD ignores it there; Argosy honours it with a warning)."""
        return self.option_values.get("Force", "").lower() == "true"

    def option(self, key: str) -> str | None:
        """The value of one sync option (``"PruneLast"`` -> ``"true"``), ``None`` when unset."""
        return self.option_values.get(key)

    def to_status(self, previous: ArgosyStatus | None = None) -> ArgosyStatus:
        """``status.argosy`` with this policy recorded (other ``status.argosy`` fields kept)."""
        base = previous if previous is not None else ArgosyStatus()
        return replace(
            base,
            effective_sync_policy=self.policy,
            policy_origin=MappingProxyType(dict(self.origin)),
            profile=self.profile,
        )


def _option_key(option: str) -> str:
    key, _, _value = option.partition("=")
    return key.strip()


def merge_sync_options(profile: Iterable[str], app: Iterable[str]) -> tuple[tuple[str, ...], dict[str, bool]]:
    """Merge sync options by key (``Key=Value``), the Application winning.

    Returns the merged list (profile order, app-only keys appended in app order) and, per key,
    whether the Application supplied it.
    """
    app_list = list(app)
    app_by_key: dict[str, str] = {}
    for option in app_list:
        app_by_key[_option_key(option)] = option  # the last one wins, as when Argo CD parses them
    merged: list[str] = []
    from_app: dict[str, bool] = {}
    for option in profile:
        key = _option_key(option)
        if key in from_app:
            continue
        if key in app_by_key:
            merged.append(app_by_key[key])
            from_app[key] = True
        else:
            merged.append(option)
            from_app[key] = False
    for option in app_list:
        key = _option_key(option)
        if key not in from_app:
            merged.append(app_by_key[key])
            from_app[key] = True
    return tuple(merged), from_app


def _pick(
    name: str,
    app_value: Any,
    profile_value: Any,
    prof_origin: str,
    origin: dict[str, str],
) -> Any:
    if app_value is not None:
        origin[name] = ORIGIN_APPLICATION
        return app_value
    if profile_value is not None:
        origin[name] = prof_origin
        return profile_value
    origin[name] = ORIGIN_DEFAULT
    return None


def effective_sync_policy(
    app: Application,
    profiles: Mapping[str, Profile],
    label_key: str = DEFAULT_LABEL_KEY,
) -> EffectivePolicy:
    """Merge the profile named by the app's ``label_key`` label under the app's own sync policy.

    * ``automated``: present when either side has it; each of ``prune``, ``selfHeal``,
      ``allowEmpty`` and ``enabled`` comes from the app when the app sets it, else from the profile.
      An app opts out of a profile's automation with ``automated: {enabled: false}``.
    * ``syncOptions``: merged by key, the app's value winning.
    * ``retry``: ``limit``, ``refresh`` and each ``backoff`` field, the app winning field by field.
    * ``managedNamespaceMetadata``: the app's when set, else the profile's.
    * Unknown extra fields of the app's ``syncPolicy`` are kept.
    """
    own = app.spec.sync_policy if app.spec.sync_policy is not None else SyncPolicy()
    label = app.metadata.labels.get(label_key)
    condition: ApplicationCondition | None = None
    profile: Profile | None = None
    if label is not None:
        profile = profiles.get(label)
        if profile is None:
            known = ", ".join(sorted(profiles)) or "none"
            condition = ApplicationCondition(
                type=CONDITION_PROFILE_WARNING,
                message=(
                    f"label {label_key}={label} names no sync-policies profile (known: {known}); "
                    "the application's own syncPolicy is used"
                ),
            )
    base = profile.sync_policy if profile is not None else SyncPolicy()
    prof_origin = profile_origin(profile.name) if profile is not None else ORIGIN_DEFAULT
    origin: dict[str, str] = {}

    # automated
    automated: Automated | None
    if own.automated is None and base.automated is None:
        automated = None
        origin["automated"] = ORIGIN_DEFAULT
    else:
        a = own.automated if own.automated is not None else Automated()
        b = base.automated if base.automated is not None else Automated()
        origin["automated"] = ORIGIN_APPLICATION if own.automated is not None else prof_origin
        automated = Automated(
            prune=_pick("automated.prune", a.prune, b.prune, prof_origin, origin),
            self_heal=_pick("automated.selfHeal", a.self_heal, b.self_heal, prof_origin, origin),
            allow_empty=_pick("automated.allowEmpty", a.allow_empty, b.allow_empty, prof_origin, origin),
            enabled=_pick("automated.enabled", a.enabled, b.enabled, prof_origin, origin),
            extra=MappingProxyType({**b.extra, **a.extra}),
        )

    # syncOptions
    options, from_app = merge_sync_options(base.sync_options, own.sync_options)
    option_values: dict[str, str] = {}
    for option in options:
        key, _, value = option.partition("=")
        option_values[key.strip()] = value.strip()
        origin[f"syncOptions.{key.strip()}"] = ORIGIN_APPLICATION if from_app[key.strip()] else prof_origin

    # retry
    retry: RetryStrategy | None
    if own.retry is None and base.retry is None:
        retry = None
        origin["retry"] = ORIGIN_DEFAULT
    else:
        r = own.retry if own.retry is not None else RetryStrategy()
        p = base.retry if base.retry is not None else RetryStrategy()
        origin["retry"] = ORIGIN_APPLICATION if own.retry is not None else prof_origin
        rb = r.backoff if r.backoff is not None else Backoff()
        pb = p.backoff if p.backoff is not None else Backoff()
        backoff: Backoff | None = None
        if r.backoff is not None or p.backoff is not None:
            backoff = Backoff(
                duration=_pick("retry.backoff.duration", rb.duration, pb.duration, prof_origin, origin),
                factor=_pick("retry.backoff.factor", rb.factor, pb.factor, prof_origin, origin),
                max_duration=_pick(
                    "retry.backoff.maxDuration", rb.max_duration, pb.max_duration, prof_origin, origin
                ),
                extra=MappingProxyType({**pb.extra, **rb.extra}),
            )
        retry = RetryStrategy(
            limit=_pick("retry.limit", r.limit, p.limit, prof_origin, origin),
            backoff=backoff,
            refresh=_pick("retry.refresh", r.refresh, p.refresh, prof_origin, origin),
            extra=MappingProxyType({**p.extra, **r.extra}),
        )

    mnm = _pick(
        "managedNamespaceMetadata",
        own.managed_namespace_metadata,
        base.managed_namespace_metadata,
        prof_origin,
        origin,
    )
    policy = SyncPolicy(
        automated=automated,
        sync_options=options,
        retry=retry,
        managed_namespace_metadata=mnm,
        extra=own.extra,
    )
    warnings: list[str] = []
    if option_values.get("Force", "").lower() == "true":
        warnings.append(_FORCE_WARNING.format(origin=origin["syncOptions.Force"]))
    return EffectivePolicy(
        policy=policy,
        origin=MappingProxyType(origin),
        profile=profile.name if profile is not None else "",
        condition=condition,
        warnings=tuple(warnings),
        option_values=MappingProxyType(option_values),
    )
