# ruff: noqa: RUF009  (fields are declared with _f(), a thin wrapper around dataclasses.field)
"""Argo CD's ``Application`` (``argoproj.io/v1alpha1``) as frozen dataclasses.

Layer 0 (``argosy.model``): standard library only.

The Application object is itself an interface (argocd-semantics.md §1.12): other tools write
``.operation``, the refresh annotation and finalizers, and read ``.status``. These classes read
and write Argo CD's camelCase form without loss:

* ``X.from_dict(data)`` type-checks every known field and raises :class:`ModelError` naming the
  field path (``spec.syncPolicy.automated.prune: expected true or false, got str``);
* ``x.to_dict()`` writes the camelCase form back. Unknown fields are kept in ``extra`` and written
  back unchanged, and a known field that was present with its default value (``prune: false``,
  ``syncOptions: []``, ``null``) is written back as it was, so ``from_dict(d).to_dict() == d``.

Fields whose *presence* matters for merging (the automated flags, retry and backoff, which the
environment profiles of ``argosy.core.profiles`` fill in field by field) are ``X | None``, with
``None`` meaning "not set"; properties give the Argo CD default.

Sources stay raw mappings here (``spec.source``/``spec.sources``), so an Application whose source
uses a feature Argosy does not render still parses and can carry an ``InvalidSpecError``
condition; :meth:`ApplicationSpec.application_sources` parses them with :mod:`argosy.model.source`.

Argosy's own status lives under ``status.argosy`` (:class:`ArgosyStatus`): the effective sync
policy with the origin of each field, the rollback hold and drift attribution. Argo CD's tools
ignore it.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any, ClassVar, Self

from argosy.model.source import ApplicationSource, sources_of_spec

__all__ = [
    "API_GROUP",
    "API_VERSION",
    "CONDITION_INVALID_SPEC",
    "CONDITION_ORPHANED_RESOURCE_WARNING",
    "CONDITION_SYNC_ERROR",
    "FINALIZER_POST_DELETE",
    "FINALIZER_RESOURCES",
    "FINALIZER_RESOURCES_BACKGROUND",
    "FINALIZER_RESOURCES_FOREGROUND",
    "AppProject",
    "AppProjectSpec",
    "Application",
    "ApplicationCondition",
    "ApplicationDestination",
    "ApplicationSpec",
    "ApplicationStatus",
    "ArgosyStatus",
    "Automated",
    "Backoff",
    "DriftField",
    "DriftStatus",
    "GroupKindPattern",
    "HealthStatus",
    "InitiatedBy",
    "ModelError",
    "ObjectMeta",
    "Operation",
    "OperationState",
    "OrphanIgnore",
    "OrphanedResources",
    "ProjectRole",
    "ResourceResult",
    "ResourceStatus",
    "RetryStrategy",
    "RevisionHistory",
    "RollbackHold",
    "SyncOperation",
    "SyncOperationResource",
    "SyncPolicy",
    "SyncResult",
    "SyncStatus",
    "SyncStrategy",
    "SyncStrategyFlags",
    "SyncWindow",
    "format_time",
    "freeze",
    "iter_conditions",
    "parse_go_duration",
    "parse_time",
    "plain",
]

API_GROUP = "argoproj.io"
API_VERSION = "argoproj.io/v1alpha1"

FINALIZER_RESOURCES = "resources-finalizer.argocd.argoproj.io"
FINALIZER_RESOURCES_FOREGROUND = "resources-finalizer.argocd.argoproj.io/foreground"
FINALIZER_RESOURCES_BACKGROUND = "resources-finalizer.argocd.argoproj.io/background"
FINALIZER_POST_DELETE = "post-delete-finalizer.argocd.argoproj.io"

CONDITION_INVALID_SPEC = "InvalidSpecError"
CONDITION_SYNC_ERROR = "SyncError"
CONDITION_ORPHANED_RESOURCE_WARNING = "OrphanedResourceWarning"


class ModelError(ValueError):
    """A wrongly typed or missing field; the message starts with the field path."""


# --- value helpers ---------------------------------------------------------------------------------


def _type_name(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, Mapping):
        return "object"
    if isinstance(value, list | tuple):
        return "list"
    return type(value).__name__


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def freeze(value: Any) -> Any:
    """An immutable deep copy: mappings become ``MappingProxyType``, lists become tuples."""
    if isinstance(value, Mapping):
        return MappingProxyType({str(k): freeze(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return tuple(freeze(v) for v in value)
    return value


def plain(value: Any) -> Any:
    """A deep copy made of plain ``dict`` and ``list`` (the inverse of :func:`freeze`)."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def _obj(value: object, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ModelError(f"{where or '<root>'}: expected an object, got {_type_name(value)}")
    for key in value:
        if not isinstance(key, str):
            raise ModelError(f"{where or '<root>'}: keys must be strings, got {_type_name(key)}")
    return value


_GO_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_UNIT = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}


def parse_go_duration(text: str) -> timedelta:
    """Parse a Go duration (``90s``, ``5m``, ``1h30m``). A bare integer is seconds, as in Argo CD's
    retry backoff. Raises ``ValueError`` for anything else."""
    s = text.strip()
    if re.fullmatch(r"-?\d+", s):
        return timedelta(seconds=int(s))
    sign = 1.0
    if s[:1] in "+-" and s:
        sign = -1.0 if s[0] == "-" else 1.0
        s = s[1:]
    if s == "0":
        return timedelta(0)
    pos, total = 0, 0.0
    for match in _GO_DURATION.finditer(s):
        if match.start() != pos:
            break
        total += float(match[1]) * _UNIT[match[2]]
        pos = match.end()
    if not s or pos != len(s):
        raise ValueError(f"invalid duration {text!r} (expected e.g. 30s, 5m, 1h30m)")
    return timedelta(seconds=sign * total)


def parse_time(text: str) -> datetime | None:
    """An RFC 3339 time as Kubernetes writes it (``2026-01-02T03:04:05Z``), timezone-aware UTC;
    ``None`` for an empty string. Raises ``ValueError`` for malformed text."""
    if not text:
        return None
    value = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def format_time(value: datetime) -> str:
    """The RFC 3339 form Kubernetes uses (UTC, second precision, ``Z``)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- field kinds: (parse(value, where), dump(value)) -------------------------------------------------

_Parse = Callable[[Any, str], Any]
_Dump = Callable[[Any], Any]


def _p_str(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise ModelError(f"{where}: expected a string, got {_type_name(value)}")
    return value


def _p_bool(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise ModelError(f"{where}: expected true or false, got {_type_name(value)}")
    return value


def _p_int(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ModelError(f"{where}: expected an integer, got {_type_name(value)}")
    return value


def _p_str_list(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list | tuple):
        raise ModelError(f"{where}: expected a list, got {_type_name(value)}")
    return tuple(_p_str(v, f"{where}[{i}]") for i, v in enumerate(value))


def _p_str_map(value: Any, where: str) -> Mapping[str, str]:
    d = _obj(value, where)
    return MappingProxyType({k: _p_str(v, f"{where}.{k}") for k, v in d.items()})


def _p_raw(value: Any, where: str) -> Any:
    return freeze(value)


def _p_raw_obj(value: Any, where: str) -> Mapping[str, Any]:
    return freeze(_obj(value, where))  # type: ignore[no-any-return]


def _p_raw_obj_list(value: Any, where: str) -> tuple[Mapping[str, Any], ...]:
    if not isinstance(value, list | tuple):
        raise ModelError(f"{where}: expected a list, got {_type_name(value)}")
    return tuple(freeze(_obj(v, f"{where}[{i}]")) for i, v in enumerate(value))


def _identity(value: Any) -> Any:
    return value


def _d_list(value: Any) -> Any:
    return list(value)


def _d_map(value: Any) -> Any:
    return dict(value)


STR: tuple[_Parse, _Dump] = (_p_str, _identity)
BOOL: tuple[_Parse, _Dump] = (_p_bool, _identity)
INT: tuple[_Parse, _Dump] = (_p_int, _identity)
STR_LIST: tuple[_Parse, _Dump] = (_p_str_list, _d_list)
STR_MAP: tuple[_Parse, _Dump] = (_p_str_map, _d_map)
RAW: tuple[_Parse, _Dump] = (_p_raw, plain)
RAW_OBJ: tuple[_Parse, _Dump] = (_p_raw_obj, plain)
RAW_OBJ_LIST: tuple[_Parse, _Dump] = (_p_raw_obj_list, plain)


def _one(cls: type[_Model]) -> tuple[_Parse, _Dump]:
    return (cls.from_dict, lambda v: v.to_dict())


def _many(cls: type[_Model]) -> tuple[_Parse, _Dump]:
    def parse(value: Any, where: str) -> tuple[Any, ...]:
        if not isinstance(value, list | tuple):
            raise ModelError(f"{where}: expected a list, got {_type_name(value)}")
        return tuple(cls.from_dict(v, f"{where}[{i}]") for i, v in enumerate(value))

    return (parse, lambda v: [item.to_dict() for item in v])


_EMPTY_MAP: Mapping[str, Any] = MappingProxyType({})


def _f(key: str, kind: tuple[_Parse, _Dump], default: Any = None, *, factory: Any = None) -> Any:
    """A dataclass field read from and written to ``key`` with ``kind``."""
    meta = {"key": key, "kind": kind}
    if factory is not None:
        return field(default_factory=factory, metadata=meta)
    return field(default=default, metadata=meta)


def _extra() -> Any:
    return field(default_factory=lambda: _EMPTY_MAP, repr=False)


def _default_of(f: dataclasses.Field[Any]) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return dataclasses.MISSING


class _Model:
    """Generic camelCase reading and writing driven by the dataclass fields' metadata."""

    __slots__ = ()
    _REQUIRED: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def _spec(cls) -> tuple[tuple[str, str, _Parse, _Dump, Any], ...]:
        cached: tuple[tuple[str, str, _Parse, _Dump, Any], ...] | None = cls.__dict__.get("_SPEC_CACHE")
        if cached is None:
            cached = tuple(
                (f.name, f.metadata["key"], f.metadata["kind"][0], f.metadata["kind"][1], _default_of(f))
                for f in dataclasses.fields(cls)  # type: ignore[arg-type]
                if "key" in f.metadata
            )
            type.__setattr__(cls, "_SPEC_CACHE", cached)
        return cached

    @classmethod
    def from_dict(cls, data: object, where: str = "") -> Self:
        d = _obj(data, where)
        spec = cls._spec()
        known = {key for _, key, _, _, _ in spec}
        extra = {k: freeze(v) for k, v in d.items() if k not in known}
        kwargs: dict[str, Any] = {}
        for attr, key, parse, _dump, default in spec:
            if key not in d:
                if key in cls._REQUIRED:
                    raise ModelError(f"{_join(where, key)}: required")
                continue
            raw = d[key]
            if raw is None:
                extra[key] = None
                continue
            value = parse(raw, _join(where, key))
            if value == default:
                extra[key] = freeze(raw)  # keep how it was written (``false``, ``[]``, ``{}``)
            else:
                kwargs[attr] = value
        kwargs["extra"] = MappingProxyType(extra) if extra else _EMPTY_MAP
        return cls(**kwargs)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = plain(getattr(self, "extra", _EMPTY_MAP))
        for attr, key, _parse, dump, default in self._spec():
            value = getattr(self, attr)
            if value != default:
                out[key] = dump(value)
        return out


# --- metadata --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ObjectMeta(_Model):
    """``metadata``: the fields Argosy reads; ``uid``, ``managedFields`` and the rest stay in ``extra``."""

    name: str = _f("name", STR, "")
    namespace: str = _f("namespace", STR, "")
    labels: Mapping[str, str] = _f("labels", STR_MAP, factory=lambda: _EMPTY_MAP)
    annotations: Mapping[str, str] = _f("annotations", STR_MAP, factory=lambda: _EMPTY_MAP)
    finalizers: tuple[str, ...] = _f("finalizers", STR_LIST, ())
    resource_version: str = _f("resourceVersion", STR, "")
    generation: int = _f("generation", INT, 0)
    uid: str = _f("uid", STR, "")
    deletion_timestamp: str = _f("deletionTimestamp", STR, "")
    extra: Mapping[str, Any] = _extra()

    @property
    def being_deleted(self) -> bool:
        return bool(self.deletion_timestamp)


# --- spec ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ApplicationDestination(_Model):
    """``spec.destination`` (and ``AppProject.spec.destinations[]``): a cluster by URL or by name."""

    server: str = _f("server", STR, "")
    name: str = _f("name", STR, "")
    namespace: str = _f("namespace", STR, "")
    extra: Mapping[str, Any] = _extra()


@dataclass(frozen=True, slots=True)
class Automated(_Model):
    """``syncPolicy.automated``. ``None`` means "not set" (see :mod:`argosy.core.profiles`)."""

    prune: bool | None = _f("prune", BOOL)
    self_heal: bool | None = _f("selfHeal", BOOL)
    allow_empty: bool | None = _f("allowEmpty", BOOL)
    enabled: bool | None = _f("enabled", BOOL)
    extra: Mapping[str, Any] = _extra()

    @property
    def is_enabled(self) -> bool:
        """``enabled: false`` switches automation off; absent or ``null`` counts as enabled."""
        return self.enabled is not False


@dataclass(frozen=True, slots=True)
class Backoff(_Model):
    """``retry.backoff``. Defaults (Argo CD): duration 5s, factor 2, maxDuration 3m."""

    duration: str | None = _f("duration", STR)
    factor: int | None = _f("factor", INT)
    max_duration: str | None = _f("maxDuration", STR)
    extra: Mapping[str, Any] = _extra()

    DEFAULT_DURATION: ClassVar[str] = "5s"
    DEFAULT_FACTOR: ClassVar[int] = 2
    DEFAULT_MAX_DURATION: ClassVar[str] = "3m"

    def delay(self, retry_count: int) -> timedelta:
        """``duration * factor ** retry_count``, capped at ``maxDuration``."""
        base = parse_go_duration(self.duration or self.DEFAULT_DURATION)
        factor = self.DEFAULT_FACTOR if self.factor is None else self.factor
        cap = parse_go_duration(self.max_duration or self.DEFAULT_MAX_DURATION)
        seconds = min(base.total_seconds() * float(factor) ** max(retry_count, 0), 1e9)
        delay = timedelta(seconds=seconds)
        return min(delay, cap) if cap > timedelta(0) else delay


@dataclass(frozen=True, slots=True)
class RetryStrategy(_Model):
    """``syncPolicy.retry`` / ``operation.retry``: ``limit`` (``-1`` unlimited), ``backoff``, ``refresh``."""

    limit: int | None = _f("limit", INT)
    backoff: Backoff | None = _f("backoff", _one(Backoff))
    refresh: bool | None = _f("refresh", BOOL)
    extra: Mapping[str, Any] = _extra()

    @property
    def effective_backoff(self) -> Backoff:
        return self.backoff if self.backoff is not None else Backoff()


@dataclass(frozen=True, slots=True)
class SyncPolicy(_Model):
    """``spec.syncPolicy``."""

    automated: Automated | None = _f("automated", _one(Automated))
    sync_options: tuple[str, ...] = _f("syncOptions", STR_LIST, ())
    retry: RetryStrategy | None = _f("retry", _one(RetryStrategy))
    managed_namespace_metadata: Mapping[str, Any] | None = _f("managedNamespaceMetadata", RAW_OBJ)
    extra: Mapping[str, Any] = _extra()

    @property
    def automation_enabled(self) -> bool:
        return self.automated is not None and self.automated.is_enabled


@dataclass(frozen=True, slots=True)
class ApplicationSpec(_Model):
    """``spec``. ``source``/``sources`` stay raw; see :meth:`application_sources`."""

    _REQUIRED: ClassVar[tuple[str, ...]] = ("destination",)

    project: str = _f("project", STR, "")
    source: Mapping[str, Any] | None = _f("source", RAW_OBJ)
    sources: tuple[Mapping[str, Any], ...] | None = _f("sources", RAW_OBJ_LIST)
    destination: ApplicationDestination = _f(
        "destination", _one(ApplicationDestination), factory=ApplicationDestination
    )
    sync_policy: SyncPolicy | None = _f("syncPolicy", _one(SyncPolicy))
    ignore_differences: tuple[Mapping[str, Any], ...] = _f("ignoreDifferences", RAW_OBJ_LIST, ())
    revision_history_limit: int | None = _f("revisionHistoryLimit", INT)
    info: tuple[Mapping[str, Any], ...] = _f("info", RAW_OBJ_LIST, ())
    extra: Mapping[str, Any] = _extra()

    DEFAULT_REVISION_HISTORY_LIMIT: ClassVar[int] = 10

    @property
    def history_limit(self) -> int:
        limit = self.revision_history_limit
        return self.DEFAULT_REVISION_HISTORY_LIMIT if limit is None else limit

    @property
    def project_name(self) -> str:
        """Argo CD treats an empty project as ``default``."""
        return self.project or "default"

    @property
    def has_multiple_sources(self) -> bool:
        return self.sources is not None and len(self.sources) > 0

    def raw_sources(self) -> tuple[Mapping[str, Any], ...]:
        """``sources[]`` when set, else ``(source,)``, else ``()``."""
        if self.sources:
            return self.sources
        return (self.source,) if self.source is not None else ()

    def application_sources(self) -> tuple[ApplicationSource, ...]:
        """Parse the sources with :func:`argosy.model.source.sources_of_spec` (raises ``SourceError``)."""
        body: dict[str, Any] = {}
        if self.sources:
            body["sources"] = plain(self.sources)
        elif self.source is not None:
            body["source"] = plain(self.source)
        return sources_of_spec(body, "spec")


# --- operation ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SyncOperationResource(_Model):
    """``operation.sync.resources[]``: a selective sync target."""

    group: str = _f("group", STR, "")
    kind: str = _f("kind", STR, "")
    name: str = _f("name", STR, "")
    namespace: str = _f("namespace", STR, "")
    extra: Mapping[str, Any] = _extra()


@dataclass(frozen=True, slots=True)
class SyncStrategyFlags(_Model):
    force: bool = _f("force", BOOL, False)
    extra: Mapping[str, Any] = _extra()


@dataclass(frozen=True, slots=True)
class SyncStrategy(_Model):
    """``syncStrategy``: ``{apply: {force}}`` or ``{hook: {force}}`` (hook is Argo CD's default)."""

    apply: SyncStrategyFlags | None = _f("apply", _one(SyncStrategyFlags))
    hook: SyncStrategyFlags | None = _f("hook", _one(SyncStrategyFlags))
    extra: Mapping[str, Any] = _extra()

    @property
    def force(self) -> bool:
        return any(s is not None and s.force for s in (self.apply, self.hook))

    @property
    def kind(self) -> str:
        return "apply" if self.apply is not None and self.hook is None else "hook"


@dataclass(frozen=True, slots=True)
class SyncOperation(_Model):
    """``operation.sync``. An empty revision means "resolve the source's targetRevision now"."""

    revision: str = _f("revision", STR, "")
    revisions: tuple[str, ...] = _f("revisions", STR_LIST, ())
    prune: bool = _f("prune", BOOL, False)
    dry_run: bool = _f("dryRun", BOOL, False)
    resources: tuple[SyncOperationResource, ...] = _f("resources", _many(SyncOperationResource), ())
    sync_strategy: SyncStrategy | None = _f("syncStrategy", _one(SyncStrategy))
    sync_options: tuple[str, ...] = _f("syncOptions", STR_LIST, ())
    source: Mapping[str, Any] | None = _f("source", RAW_OBJ)
    sources: tuple[Mapping[str, Any], ...] | None = _f("sources", RAW_OBJ_LIST)
    manifests: tuple[str, ...] = _f("manifests", STR_LIST, ())
    self_heal_attempts_count: int = _f("selfHealAttemptsCount", INT, 0)
    auto_heal_attempts_count: int = _f("autoHealAttemptsCount", INT, 0)
    extra: Mapping[str, Any] = _extra()


@dataclass(frozen=True, slots=True)
class InitiatedBy(_Model):
    username: str = _f("username", STR, "")
    automated: bool = _f("automated", BOOL, False)
    extra: Mapping[str, Any] = _extra()


@dataclass(frozen=True, slots=True)
class Operation(_Model):
    """Top-level ``.operation`` (beside ``spec``): a requested operation."""

    sync: SyncOperation | None = _f("sync", _one(SyncOperation))
    initiated_by: InitiatedBy = _f("initiatedBy", _one(InitiatedBy), factory=InitiatedBy)
    info: tuple[Mapping[str, Any], ...] = _f("info", RAW_OBJ_LIST, ())
    retry: RetryStrategy | None = _f("retry", _one(RetryStrategy))
    extra: Mapping[str, Any] = _extra()


# --- status ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SyncStatus(_Model):
    """``status.sync``: ``Synced``, ``OutOfSync`` or ``Unknown`` against ``comparedTo``."""

    status: str = _f("status", STR, "")
    revision: str = _f("revision", STR, "")
    revisions: tuple[str, ...] = _f("revisions", STR_LIST, ())
    compared_to: Mapping[str, Any] | None = _f("comparedTo", RAW_OBJ)
    extra: Mapping[str, Any] = _extra()


@dataclass(frozen=True, slots=True)
class HealthStatus(_Model):
    status: str = _f("status", STR, "")
    message: str = _f("message", STR, "")
    last_transition_time: str = _f("lastTransitionTime", STR, "")
    extra: Mapping[str, Any] = _extra()


@dataclass(frozen=True, slots=True)
class ResourceStatus(_Model):
    """``status.resources[]``: one managed (non-hook) object."""

    group: str = _f("group", STR, "")
    version: str = _f("version", STR, "")
    kind: str = _f("kind", STR, "")
    namespace: str = _f("namespace", STR, "")
    name: str = _f("name", STR, "")
    status: str = _f("status", STR, "")
    health: HealthStatus | None = _f("health", _one(HealthStatus))
    hook: bool = _f("hook", BOOL, False)
    requires_pruning: bool = _f("requiresPruning", BOOL, False)
    sync_wave: int = _f("syncWave", INT, 0)
    extra: Mapping[str, Any] = _extra()


@dataclass(frozen=True, slots=True)
class ApplicationCondition(_Model):
    """``status.conditions[]``; types ending in ``Error`` are errors, ``Warning`` warnings."""

    type: str = _f("type", STR, "")
    message: str = _f("message", STR, "")
    last_transition_time: str = _f("lastTransitionTime", STR, "")
    extra: Mapping[str, Any] = _extra()

    @property
    def is_error(self) -> bool:
        return self.type.endswith("Error")


@dataclass(frozen=True, slots=True)
class ResourceResult(_Model):
    """``status.operationState.syncResult.resources[]``: one applied object or hook run."""

    group: str = _f("group", STR, "")
    version: str = _f("version", STR, "")
    kind: str = _f("kind", STR, "")
    namespace: str = _f("namespace", STR, "")
    name: str = _f("name", STR, "")
    status: str = _f("status", STR, "")
    message: str = _f("message", STR, "")
    hook_type: str = _f("hookType", STR, "")
    hook_phase: str = _f("hookPhase", STR, "")
    sync_phase: str = _f("syncPhase", STR, "")
    images: tuple[str, ...] = _f("images", STR_LIST, ())
    extra: Mapping[str, Any] = _extra()


@dataclass(frozen=True, slots=True)
class SyncResult(_Model):
    resources: tuple[ResourceResult, ...] = _f("resources", _many(ResourceResult), ())
    revision: str = _f("revision", STR, "")
    revisions: tuple[str, ...] = _f("revisions", STR_LIST, ())
    source: Mapping[str, Any] | None = _f("source", RAW_OBJ)
    sources: tuple[Mapping[str, Any], ...] | None = _f("sources", RAW_OBJ_LIST)
    managed_namespace_metadata: Mapping[str, Any] | None = _f("managedNamespaceMetadata", RAW_OBJ)
    extra: Mapping[str, Any] = _extra()


@dataclass(frozen=True, slots=True)
class OperationState(_Model):
    """``status.operationState``. Phases: Running, Terminating, Failed, Error, Succeeded."""

    operation: Operation = _f("operation", _one(Operation), factory=Operation)
    phase: str = _f("phase", STR, "")
    message: str = _f("message", STR, "")
    sync_result: SyncResult | None = _f("syncResult", _one(SyncResult))
    started_at: str = _f("startedAt", STR, "")
    finished_at: str = _f("finishedAt", STR, "")
    retry_count: int = _f("retryCount", INT, 0)
    extra: Mapping[str, Any] = _extra()

    @property
    def completed(self) -> bool:
        return self.phase in ("Failed", "Error", "Succeeded")

    @property
    def successful(self) -> bool:
        return self.phase == "Succeeded"


@dataclass(frozen=True, slots=True)
class RevisionHistory(_Model):
    """``status.history[]``: one deployment (a rollback target)."""

    id: int = _f("id", INT, 0)
    revision: str = _f("revision", STR, "")
    revisions: tuple[str, ...] = _f("revisions", STR_LIST, ())
    deployed_at: str = _f("deployedAt", STR, "")
    deploy_started_at: str = _f("deployStartedAt", STR, "")
    source: Mapping[str, Any] | None = _f("source", RAW_OBJ)
    sources: tuple[Mapping[str, Any], ...] | None = _f("sources", RAW_OBJ_LIST)
    initiated_by: InitiatedBy | None = _f("initiatedBy", _one(InitiatedBy))
    extra: Mapping[str, Any] = _extra()


@dataclass(frozen=True, slots=True)
class RollbackHold(_Model):
    """``status.argosy.rollbackHold``: auto-sync pauses while the target is still ``revision``."""

    revision: str = _f("revision", STR, "")
    revisions: tuple[str, ...] = _f("revisions", STR_LIST, ())
    held_at: str = _f("heldAt", STR, "")
    reason: str = _f("reason", STR, "")
    history_id: int = _f("historyId", INT, 0)
    extra: Mapping[str, Any] = _extra()


@dataclass(frozen=True, slots=True)
class DriftField(_Model):
    """One drifted field: its path, the field manager that last wrote it, and when."""

    path: str = _f("path", STR, "")
    manager: str = _f("manager", STR, "")
    time: str = _f("time", STR, "")
    extra: Mapping[str, Any] = _extra()


@dataclass(frozen=True, slots=True)
class DriftStatus(_Model):
    detected: bool = _f("detected", BOOL, False)
    fields: tuple[DriftField, ...] = _f("fields", _many(DriftField), ())
    extra: Mapping[str, Any] = _extra()


@dataclass(frozen=True, slots=True)
class ArgosyStatus(_Model):
    """``status.argosy``: Argosy's own status, ignored by Argo CD's tools.

    ``effectiveSyncPolicy`` is the merged policy (:mod:`argosy.core.profiles`), ``policyOrigin`` maps
    each field path (``automated.prune``, ``syncOptions.PruneLast``, ``retry.limit``) to
    ``application``, ``profile:<name>`` or ``default``, and ``profile`` names the profile used.
    """

    effective_sync_policy: SyncPolicy | None = _f("effectiveSyncPolicy", _one(SyncPolicy))
    policy_origin: Mapping[str, str] = _f("policyOrigin", STR_MAP, factory=lambda: _EMPTY_MAP)
    profile: str = _f("profile", STR, "")
    rollback_hold: RollbackHold | None = _f("rollbackHold", _one(RollbackHold))
    drift: DriftStatus | None = _f("drift", _one(DriftStatus))
    extra: Mapping[str, Any] = _extra()


@dataclass(frozen=True, slots=True)
class ApplicationStatus(_Model):
    """``status`` (written by the controller only)."""

    sync: SyncStatus | None = _f("sync", _one(SyncStatus))
    health: HealthStatus | None = _f("health", _one(HealthStatus))
    resources: tuple[ResourceStatus, ...] = _f("resources", _many(ResourceStatus), ())
    conditions: tuple[ApplicationCondition, ...] = _f("conditions", _many(ApplicationCondition), ())
    operation_state: OperationState | None = _f("operationState", _one(OperationState))
    history: tuple[RevisionHistory, ...] = _f("history", _many(RevisionHistory), ())
    reconciled_at: str = _f("reconciledAt", STR, "")
    observed_at: str = _f("observedAt", STR, "")
    source_type: str = _f("sourceType", STR, "")
    source_types: tuple[str, ...] = _f("sourceTypes", STR_LIST, ())
    summary: Mapping[str, Any] | None = _f("summary", RAW_OBJ)
    controller_namespace: str = _f("controllerNamespace", STR, "")
    argosy: ArgosyStatus | None = _f("argosy", _one(ArgosyStatus))
    extra: Mapping[str, Any] = _extra()


# --- the Application -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Application(_Model):
    """An ``argoproj.io/v1alpha1`` ``Application``.

    ``Application.from_dict(obj)`` checks ``apiVersion``/``kind`` when present, requires
    ``metadata`` and ``spec`` (with ``spec.destination``), and keeps everything it does not know.
    """

    _REQUIRED: ClassVar[tuple[str, ...]] = ("metadata", "spec")

    api_version: str = _f("apiVersion", STR, "")
    kind: str = _f("kind", STR, "")
    metadata: ObjectMeta = _f("metadata", _one(ObjectMeta), factory=ObjectMeta)
    spec: ApplicationSpec = _f("spec", _one(ApplicationSpec), factory=ApplicationSpec)
    operation: Operation | None = _f("operation", _one(Operation))
    status: ApplicationStatus = _f("status", _one(ApplicationStatus), factory=ApplicationStatus)
    extra: Mapping[str, Any] = _extra()

    KIND: ClassVar[str] = "Application"

    @classmethod
    def from_dict(cls, data: object, where: str = "") -> Self:
        app = super(Application, cls).from_dict(data, where)
        _check_type(app.api_version, app.kind, cls.KIND, where)
        return app

    @property
    def name(self) -> str:
        return self.metadata.name

    @property
    def namespace(self) -> str:
        return self.metadata.namespace

    @property
    def qualified_name(self) -> str:
        """``namespace/name``, as Argo CD keys applications in any namespace."""
        return f"{self.metadata.namespace}/{self.metadata.name}"

    @property
    def refresh_requested(self) -> str:
        """``normal``/``hard`` when ``argocd.argoproj.io/refresh`` is set, else ``""``."""
        value = self.metadata.annotations.get("argocd.argoproj.io/refresh")
        if value is None:
            return ""
        return "hard" if value == "hard" else "normal"

    @property
    def cascade_delete(self) -> bool:
        return any(
            f in (FINALIZER_RESOURCES, FINALIZER_RESOURCES_FOREGROUND, FINALIZER_RESOURCES_BACKGROUND)
            for f in self.metadata.finalizers
        )


def _check_type(api_version: str, kind: str, expected_kind: str, where: str) -> None:
    if api_version and api_version != API_VERSION:
        raise ModelError(f"{_join(where, 'apiVersion')}: expected {API_VERSION}, got {api_version!r}")
    if kind and kind != expected_kind:
        raise ModelError(f"{_join(where, 'kind')}: expected {expected_kind}, got {kind!r}")


# --- AppProject ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GroupKindPattern(_Model):
    """A ``{group, kind}`` entry of a resource allow or deny list; both are globs (``*``)."""

    group: str = _f("group", STR, "")
    kind: str = _f("kind", STR, "")
    name: str = _f("name", STR, "")
    extra: Mapping[str, Any] = _extra()


@dataclass(frozen=True, slots=True)
class OrphanIgnore(_Model):
    group: str = _f("group", STR, "")
    kind: str = _f("kind", STR, "")
    name: str = _f("name", STR, "")
    extra: Mapping[str, Any] = _extra()


@dataclass(frozen=True, slots=True)
class OrphanedResources(_Model):
    """``orphanedResources``: monitoring is on when this object is present; ``warn`` adds a condition."""

    warn: bool | None = _f("warn", BOOL)
    ignore: tuple[OrphanIgnore, ...] = _f("ignore", _many(OrphanIgnore), ())
    extra: Mapping[str, Any] = _extra()


@dataclass(frozen=True, slots=True)
class ProjectRole(_Model):
    name: str = _f("name", STR, "")
    description: str = _f("description", STR, "")
    policies: tuple[str, ...] = _f("policies", STR_LIST, ())
    groups: tuple[str, ...] = _f("groups", STR_LIST, ())
    jwt_tokens: tuple[Mapping[str, Any], ...] = _f("jwtTokens", RAW_OBJ_LIST, ())
    extra: Mapping[str, Any] = _extra()


@dataclass(frozen=True, slots=True)
class SyncWindow(_Model):
    """``syncWindows[]``: ``kind`` allow|deny, cron ``schedule``, Go ``duration`` and selectors."""

    kind: str = _f("kind", STR, "")
    schedule: str = _f("schedule", STR, "")
    duration: str = _f("duration", STR, "")
    applications: tuple[str, ...] = _f("applications", STR_LIST, ())
    namespaces: tuple[str, ...] = _f("namespaces", STR_LIST, ())
    clusters: tuple[str, ...] = _f("clusters", STR_LIST, ())
    manual_sync: bool = _f("manualSync", BOOL, False)
    time_zone: str = _f("timeZone", STR, "")
    and_operator: bool = _f("andOperator", BOOL, False)
    sync_overrun: bool = _f("syncOverrun", BOOL, False)
    description: str = _f("description", STR, "")
    extra: Mapping[str, Any] = _extra()


@dataclass(frozen=True, slots=True)
class AppProjectSpec(_Model):
    """``AppProject.spec``. ``signatureKeys`` is kept (round trip) but not enforced by Argosy."""

    description: str = _f("description", STR, "")
    source_repos: tuple[str, ...] = _f("sourceRepos", STR_LIST, ())
    source_namespaces: tuple[str, ...] = _f("sourceNamespaces", STR_LIST, ())
    destinations: tuple[ApplicationDestination, ...] = _f("destinations", _many(ApplicationDestination), ())
    cluster_resource_whitelist: tuple[GroupKindPattern, ...] = _f(
        "clusterResourceWhitelist", _many(GroupKindPattern), ()
    )
    cluster_resource_blacklist: tuple[GroupKindPattern, ...] = _f(
        "clusterResourceBlacklist", _many(GroupKindPattern), ()
    )
    namespace_resource_whitelist: tuple[GroupKindPattern, ...] = _f(
        "namespaceResourceWhitelist", _many(GroupKindPattern), ()
    )
    namespace_resource_blacklist: tuple[GroupKindPattern, ...] = _f(
        "namespaceResourceBlacklist", _many(GroupKindPattern), ()
    )
    orphaned_resources: OrphanedResources | None = _f("orphanedResources", _one(OrphanedResources))
    roles: tuple[ProjectRole, ...] = _f("roles", _many(ProjectRole), ())
    sync_windows: tuple[SyncWindow, ...] = _f("syncWindows", _many(SyncWindow), ())
    signature_keys: tuple[Mapping[str, Any], ...] = _f("signatureKeys", RAW_OBJ_LIST, ())
    extra: Mapping[str, Any] = _extra()


@dataclass(frozen=True, slots=True)
class AppProject(_Model):
    """An ``argoproj.io/v1alpha1`` ``AppProject``; ``status`` (JWT tokens by role) stays raw."""

    _REQUIRED: ClassVar[tuple[str, ...]] = ("metadata",)

    api_version: str = _f("apiVersion", STR, "")
    kind: str = _f("kind", STR, "")
    metadata: ObjectMeta = _f("metadata", _one(ObjectMeta), factory=ObjectMeta)
    spec: AppProjectSpec = _f("spec", _one(AppProjectSpec), factory=AppProjectSpec)
    status: Mapping[str, Any] | None = _f("status", RAW_OBJ)
    extra: Mapping[str, Any] = _extra()

    KIND: ClassVar[str] = "AppProject"

    @classmethod
    def from_dict(cls, data: object, where: str = "") -> Self:
        project = super(AppProject, cls).from_dict(data, where)
        _check_type(project.api_version, project.kind, cls.KIND, where)
        return project

    @classmethod
    def default(cls, namespace: str = "argocd") -> AppProject:
        """The ``default`` project Argo CD creates when it is missing: it allows everything."""
        return cls(
            api_version=API_VERSION,
            kind=cls.KIND,
            metadata=ObjectMeta(name="default", namespace=namespace),
            spec=AppProjectSpec(
                source_repos=("*",),
                destinations=(ApplicationDestination(server="*", namespace="*"),),
                cluster_resource_whitelist=(GroupKindPattern(group="*", kind="*"),),
            ),
        )

    @property
    def name(self) -> str:
        return self.metadata.name


def iter_conditions(
    conditions: Iterable[ApplicationCondition], kind: str
) -> tuple[ApplicationCondition, ...]:
    """The conditions of one type."""
    return tuple(c for c in conditions if c.type == kind)
