"""Every Argo CD annotation, label and sync-option name, with typed parsers.

The parsers take a manifest's ``metadata.annotations`` mapping (or a single value) and return
typed values; malformed values raise :class:`AnnotationError` (a ``ValueError``) whose message
names the annotation, the bad value and what is accepted. Stdlib only.

Deliberate choices (see docs/sync.md):

* ``argocd.argoproj.io/hook-weight`` is not an Argo CD annotation; our spec uses it on hooks, so
  :func:`sync_wave` reads it for hooks only, after ``sync-wave`` and before ``helm.sh/hook-weight``.
* An unparsable ``sync-wave`` is an error by default (Argo CD silently falls back to the Helm
  weight or 0); ``strict=False`` gives the Argo CD behaviour.
* Unknown hook types keep Argo CD's behaviour: the object is a hook that runs in no phase.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, fields, replace
from enum import StrEnum
from typing import Any

__all__ = [
    "ANNOTATION_COMPARE_OPTIONS",
    "ANNOTATION_DELETION_APPROVED",
    "ANNOTATION_HOOK",
    "ANNOTATION_HOOK_DELETE_POLICY",
    "ANNOTATION_HOOK_WEIGHT",
    "ANNOTATION_KUBECTL_LAST_APPLIED",
    "ANNOTATION_REFRESH",
    "ANNOTATION_SYNC_OPTIONS",
    "ANNOTATION_SYNC_WAVE",
    "ANNOTATION_TRACKING_ID",
    "HELM_HOOK",
    "HELM_HOOK_DELETE_POLICY",
    "HELM_HOOK_WEIGHT",
    "LABEL_APP_INSTANCE",
    "LABEL_SECRET_TYPE",
    "AnnotationError",
    "HookDeletePolicy",
    "HookInfo",
    "HookType",
    "PropagationPolicy",
    "SyncOptionError",
    "SyncOptions",
    "SyncPhase",
    "Toggle",
    "hook_delete_policies",
    "hook_info",
    "parse_int_annotation",
    "parse_sync_options",
    "parse_sync_options_annotation",
    "sync_phases",
    "sync_wave",
]

# --- names ---------------------------------------------------------------------------------------

ANNOTATION_HOOK = "argocd.argoproj.io/hook"
ANNOTATION_HOOK_DELETE_POLICY = "argocd.argoproj.io/hook-delete-policy"
ANNOTATION_HOOK_WEIGHT = "argocd.argoproj.io/hook-weight"
"""Our spec's extension (not in Argo CD): orders hooks when they carry no sync-wave."""
ANNOTATION_SYNC_WAVE = "argocd.argoproj.io/sync-wave"
ANNOTATION_SYNC_OPTIONS = "argocd.argoproj.io/sync-options"
ANNOTATION_COMPARE_OPTIONS = "argocd.argoproj.io/compare-options"
ANNOTATION_TRACKING_ID = "argocd.argoproj.io/tracking-id"
ANNOTATION_REFRESH = "argocd.argoproj.io/refresh"
ANNOTATION_DELETION_APPROVED = "argocd.argoproj.io/deletion-approved"
ANNOTATION_KUBECTL_LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
LABEL_APP_INSTANCE = "app.kubernetes.io/instance"
LABEL_SECRET_TYPE = "argocd.argoproj.io/secret-type"  # noqa: S105 (a label name, not a secret)

HELM_HOOK = "helm.sh/hook"
HELM_HOOK_WEIGHT = "helm.sh/hook-weight"
HELM_HOOK_DELETE_POLICY = "helm.sh/hook-delete-policy"


class AnnotationError(ValueError):
    """An annotation value that cannot be parsed; the message names the annotation and value."""


class SyncOptionError(AnnotationError):
    """A malformed ``Key=Value`` sync option or a value the option does not accept."""


# --- vocabularies --------------------------------------------------------------------------------


class HookType(StrEnum):
    PRE_SYNC = "PreSync"
    SYNC = "Sync"
    POST_SYNC = "PostSync"
    SYNC_FAIL = "SyncFail"
    SKIP = "Skip"
    PRE_DELETE = "PreDelete"
    POST_DELETE = "PostDelete"

    @property
    def sync_phase(self) -> SyncPhase | None:
        """The sync phase this hook runs in; ``None`` for Skip and the app-deletion hooks."""
        try:
            return SyncPhase(self.value)
        except ValueError:
            return None


class HookDeletePolicy(StrEnum):
    HOOK_SUCCEEDED = "HookSucceeded"
    HOOK_FAILED = "HookFailed"
    BEFORE_HOOK_CREATION = "BeforeHookCreation"


class SyncPhase(StrEnum):
    PRE_SYNC = "PreSync"
    SYNC = "Sync"
    POST_SYNC = "PostSync"
    SYNC_FAIL = "SyncFail"

    @property
    def rank(self) -> int:
        """Execution order: PreSync -1, Sync 0, PostSync 1, SyncFail 2."""
        return _PHASE_RANK[self]


_PHASE_RANK = {SyncPhase.PRE_SYNC: -1, SyncPhase.SYNC: 0, SyncPhase.POST_SYNC: 1, SyncPhase.SYNC_FAIL: 2}

# Helm hook events Argo CD understands; others (test, pre-delete, rollback...) are hooks with no phase.
_HELM_HOOKS: dict[str, HookType] = {
    "pre-install": HookType.PRE_SYNC,
    "pre-upgrade": HookType.PRE_SYNC,
    "post-install": HookType.POST_SYNC,
    "post-upgrade": HookType.POST_SYNC,
}
# Helm uses ``crd-install`` to mark CRDs; Argo CD applies those as ordinary resources.
_HELM_NOT_A_HOOK = "crd-install"
_HELM_DELETE_POLICIES: dict[str, HookDeletePolicy] = {
    "before-hook-creation": HookDeletePolicy.BEFORE_HOOK_CREATION,
    "hook-succeeded": HookDeletePolicy.HOOK_SUCCEEDED,
    "hook-failed": HookDeletePolicy.HOOK_FAILED,
}

# --- integers (waves, weights) -------------------------------------------------------------------

_INT = re.compile(r"[+-]?[0-9]+")


def parse_int_annotation(name: str, value: str) -> int:
    """Parse an integer annotation value the way Go's ``strconv.Atoi`` does (no spaces)."""
    if not _INT.fullmatch(value):
        raise AnnotationError(f"annotation {name}: {value!r} is not an integer (e.g. '-1', '0', '5')")
    return int(value)


def sync_wave(annotations: Mapping[str, str], *, hook: bool = False, strict: bool = True) -> int:
    """The wave of an object: ``sync-wave``, else (hooks only) ``hook-weight``, else the Helm weight, else 0.

    With ``strict`` (the default) a present but unparsable value raises :class:`AnnotationError`;
    otherwise it is skipped as Argo CD does.
    """
    names = [ANNOTATION_SYNC_WAVE, *([ANNOTATION_HOOK_WEIGHT] if hook else []), HELM_HOOK_WEIGHT]
    for name in names:
        value = annotations.get(name)
        if value is None:
            continue
        try:
            return parse_int_annotation(name, str(value))
        except AnnotationError:
            if strict:
                raise
    return 0


# --- hooks ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HookInfo:
    """What the hook annotations say about an object."""

    is_hook: bool
    skip: bool
    types: tuple[HookType, ...]
    unknown: tuple[str, ...] = ()

    @property
    def phases(self) -> tuple[SyncPhase, ...]:
        """The sync phases of a hook, deduplicated, in execution order."""
        found = {t.sync_phase for t in self.types} - {None}
        return tuple(sorted((p for p in found if p is not None), key=lambda p: p.rank))


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def hook_info(annotations: Mapping[str, str]) -> HookInfo:
    """Classify an object by ``argocd.argoproj.io/hook`` (which wins) or ``helm.sh/hook``.

    ``Skip`` anywhere in the Argo CD annotation means "do not apply": not a hook, not synced.
    Unknown values are kept in ``unknown``: the object is still a hook, in no phase.
    """
    if ANNOTATION_HOOK in annotations:
        types: list[HookType] = []
        unknown: list[str] = []
        for part in _split(str(annotations[ANNOTATION_HOOK])):
            try:
                hook_type = HookType(part)
            except ValueError:
                unknown.append(part)
                continue
            if hook_type not in types:
                types.append(hook_type)
        if HookType.SKIP in types:
            return HookInfo(is_hook=False, skip=True, types=(HookType.SKIP,))
        return HookInfo(is_hook=True, skip=False, types=tuple(types), unknown=tuple(unknown))
    if HELM_HOOK in annotations:
        parts = _split(str(annotations[HELM_HOOK]))
        if parts == [_HELM_NOT_A_HOOK]:
            return HookInfo(is_hook=False, skip=False, types=())
        helm_types: list[HookType] = []
        helm_unknown: list[str] = []
        for part in parts:
            mapped = _HELM_HOOKS.get(part)
            if mapped is None:
                helm_unknown.append(part)
            elif mapped not in helm_types:
                helm_types.append(mapped)
        return HookInfo(is_hook=True, skip=False, types=tuple(helm_types), unknown=tuple(helm_unknown))
    return HookInfo(is_hook=False, skip=False, types=())


def sync_phases(annotations: Mapping[str, str]) -> tuple[SyncPhase, ...]:
    """The phases an object takes part in: ``(Sync,)`` for plain resources, the hook phases for hooks."""
    info = hook_info(annotations)
    if info.skip:
        return ()
    if not info.is_hook:
        return (SyncPhase.SYNC,)
    return info.phases


def hook_delete_policies(annotations: Mapping[str, str]) -> tuple[HookDeletePolicy, ...]:
    """Delete policies from the Argo CD and Helm annotations; ``BeforeHookCreation`` when none is given."""
    policies: list[HookDeletePolicy] = []
    for part in _split(str(annotations.get(ANNOTATION_HOOK_DELETE_POLICY, ""))):
        try:
            policy = HookDeletePolicy(part)
        except ValueError:
            allowed = ", ".join(p.value for p in HookDeletePolicy)
            raise AnnotationError(
                f"annotation {ANNOTATION_HOOK_DELETE_POLICY}: unknown policy {part!r} (expected {allowed})"
            ) from None
        if policy not in policies:
            policies.append(policy)
    for part in _split(str(annotations.get(HELM_HOOK_DELETE_POLICY, ""))):
        mapped = _HELM_DELETE_POLICIES.get(part)
        if mapped is None:
            allowed = ", ".join(_HELM_DELETE_POLICIES)
            raise AnnotationError(
                f"annotation {HELM_HOOK_DELETE_POLICY}: unknown policy {part!r} (expected {allowed})"
            )
        if mapped not in policies:
            policies.append(mapped)
    return tuple(policies) or (HookDeletePolicy.BEFORE_HOOK_CREATION,)


# --- sync options --------------------------------------------------------------------------------


class Toggle(StrEnum):
    """The values of ``Prune=`` and ``Delete=``."""

    TRUE = "true"
    FALSE = "false"
    CONFIRM = "confirm"


class PropagationPolicy(StrEnum):
    FOREGROUND = "foreground"
    BACKGROUND = "background"
    ORPHAN = "orphan"


@dataclass(frozen=True, slots=True)
class SyncOptions:
    """Parsed sync options; ``None`` means "not set here" so app and resource levels can merge.

    Use the ``*_enabled`` properties for the effective value with Argo CD's defaults.
    """

    prune: Toggle | None = None
    delete: Toggle | None = None
    replace: bool | None = None
    force: bool | None = None
    server_side_apply: bool | None = None
    prune_last: bool | None = None
    skip_dry_run_on_missing_resource: bool | None = None
    create_namespace: bool | None = None
    apply_out_of_sync_only: bool | None = None
    respect_ignore_differences: bool | None = None
    validate: bool | None = None
    fail_on_shared_resource: bool | None = None
    client_side_apply_migration: bool | None = None
    prune_propagation_policy: PropagationPolicy | None = None
    unknown: tuple[tuple[str, str], ...] = ()
    """Options we do not know, kept verbatim (Argo CD ignores them too)."""

    def merged(self, override: SyncOptions) -> SyncOptions:
        """These options overridden by every option set in ``override`` (resource level wins)."""
        changes: dict[str, Any] = {}
        for f in fields(self):
            if f.name == "unknown":
                continue
            value = getattr(override, f.name)
            if value is not None:
                changes[f.name] = value
        unknown_keys = {k for k, _ in override.unknown}
        changes["unknown"] = tuple(kv for kv in self.unknown if kv[0] not in unknown_keys) + override.unknown
        return replace(self, **changes)

    @property
    def prune_last_enabled(self) -> bool:
        return bool(self.prune_last)

    @property
    def validate_enabled(self) -> bool:
        return self.validate is not False

    @property
    def propagation_policy(self) -> PropagationPolicy:
        return self.prune_propagation_policy or PropagationPolicy.FOREGROUND

    def to_list(self) -> list[str]:
        """The ``Key=Value`` strings of the options that are set (round-trips through parsing)."""
        out: list[str] = []
        for key, (attr, _parse) in _OPTION_TABLE.items():
            value = getattr(self, attr)
            if value is None:
                continue
            text = ("true" if value else "false") if isinstance(value, bool) else str(value)
            out.append(f"{key}={text}")
        out.extend(f"{k}={v}" for k, v in self.unknown)
        return out


def _bool(key: str, value: str) -> bool:
    lowered = value.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    raise SyncOptionError(f"sync option {key}={value!r}: expected true or false")


def _toggle(key: str, value: str) -> Toggle:
    try:
        return Toggle(value.lower())
    except ValueError:
        raise SyncOptionError(f"sync option {key}={value!r}: expected true, false or confirm") from None


def _policy(key: str, value: str) -> PropagationPolicy:
    try:
        return PropagationPolicy(value.lower())
    except ValueError:
        expected = "foreground, background or orphan"
        raise SyncOptionError(f"sync option {key}={value!r}: expected {expected}") from None


_OPTION_TABLE: dict[str, tuple[str, Callable[[str, str], object]]] = {
    "Prune": ("prune", _toggle),
    "Delete": ("delete", _toggle),
    "Replace": ("replace", _bool),
    "Force": ("force", _bool),
    "ServerSideApply": ("server_side_apply", _bool),
    "PruneLast": ("prune_last", _bool),
    "SkipDryRunOnMissingResource": ("skip_dry_run_on_missing_resource", _bool),
    "CreateNamespace": ("create_namespace", _bool),
    "ApplyOutOfSyncOnly": ("apply_out_of_sync_only", _bool),
    "RespectIgnoreDifferences": ("respect_ignore_differences", _bool),
    "Validate": ("validate", _bool),
    "FailOnSharedResource": ("fail_on_shared_resource", _bool),
    "ClientSideApplyMigration": ("client_side_apply_migration", _bool),
    "PrunePropagationPolicy": ("prune_propagation_policy", _policy),
}


def parse_sync_options(items: Iterable[str]) -> SyncOptions:
    """Parse ``Key=Value`` items (``spec.syncPolicy.syncOptions``). Later items win over earlier ones."""
    values: dict[str, Any] = {}
    unknown: dict[str, str] = {}
    for raw in items:
        item = str(raw).strip()
        if not item:
            continue
        key, sep, value = item.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not key or not value:
            raise SyncOptionError(f"sync option {item!r}: expected Key=Value, e.g. PruneLast=true")
        entry = _OPTION_TABLE.get(key)
        if entry is None:
            unknown[key] = value
            continue
        attr, parse = entry
        values[attr] = parse(key, value)
    return SyncOptions(**values, unknown=tuple(unknown.items()))


def parse_sync_options_annotation(value: str) -> SyncOptions:
    """Parse the comma-separated ``argocd.argoproj.io/sync-options`` annotation value."""
    try:
        return parse_sync_options(value.split(","))
    except SyncOptionError as exc:
        raise SyncOptionError(f"annotation {ANNOTATION_SYNC_OPTIONS}: {exc}") from None
