"""The compare service: desired manifests vs live objects -> sync status, diffs and health.

``compare_app`` pairs desired manifests and live objects by :class:`ResourceKey`, diffs each pair
with :func:`argosy.core.diff.diff` and assesses health with :func:`argosy.core.health.assess`:

* **Live objects** come from ``live`` (the app's tracked objects, e.g. a live-cache snapshot, which
  also reveals orphans to prune), else from ``live_lookup(key)`` (sync or async callable), else
  from a GET through the :class:`~argosy.ports.kube.Kube` port.
* **Server-side diff** by default: a server-side apply dry-run (``dryRun=All``, force, our field
  manager) predicts the live object after a sync. If the dry-run fails, the three-way diff is used
  and ``ResourceStatus.note`` says why. Creations and deletions are never dry-run.
* Hooks and ``Skip`` resources do not count. Live objects that are not desired require pruning
  and make the app OutOfSync, unless annotated ``compare-options: IgnoreExtraneous``.
* Every change carries its field path and the field manager that last wrote it (from the live
  object's managedFields), so drift says who made it.
* Secrets are masked by the core diff; nothing here keeps a raw live or desired object in the
  result, so ``CompareResult.to_dict()`` is safe to store and show.
* A desired resource whose live object another app tracks is reported in
  ``CompareResult.warnings`` (``SharedResourceWarning``) and ``ResourceStatus.shared_with``.
* ``memo`` (a :class:`CompareMemo` kept by the caller per app) reuses a resource's status while
  neither its desired manifest nor its live ``resourceVersion`` changed: no dry run, no diff
  (Argo CD caches server-side diff results the same way).
* Each server-side dry run is recorded as ``ResourceStatus.dry_run_fingerprint``;
  :meth:`CompareResult.prior_dry_runs` hands them to the sync executor of the same operation,
  which then skips its own dry run of the same object.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from argosy.core.diff import (
    DiffMode,
    DiffOptions,
    IgnoreRule,
    ResourceDiff,
    StatusComparison,
    diff,
    plain_copy,
)
from argosy.core.health import HealthOverrides, ResourceHealth, aggregate, assess
from argosy.core.plan import CLUSTER_SCOPED_KINDS
from argosy.model import annotations as ann
from argosy.model.health import HealthResult, HealthStatus
from argosy.model.resources import ResourceKey
from argosy.ports.kube import Kube, is_not_found
from argosy.services.sync import (
    FIELD_MANAGER,
    PriorDryRun,
    dry_run_fingerprint,
    prepare_manifest,
    tracked_by,
    tracking_id,
)

__all__ = [
    "SHARED_RESOURCE_WARNING",
    "CompareMemo",
    "CompareResult",
    "CompareSettings",
    "LiveLookup",
    "ResourceStatus",
    "SyncStatus",
    "compare_app",
    "resource_key",
]

LiveLookup = Callable[[ResourceKey], "Mapping[str, Any] | Awaitable[Mapping[str, Any] | None] | None"]
IGNORE_HEALTHCHECK = "argocd.argoproj.io/ignore-healthcheck"
SHARED_RESOURCE_WARNING = "SharedResourceWarning"


class SyncStatus(StrEnum):
    SYNCED = "Synced"
    OUT_OF_SYNC = "OutOfSync"
    UNKNOWN = "Unknown"


@dataclass(frozen=True, slots=True)
class CompareSettings:
    app_name: str = ""
    """Sets the tracking-id annotation on the dry-run object, as the sync would."""
    field_manager: str = FIELD_MANAGER
    server_side_diff: bool = True
    ignore_rules: tuple[IgnoreRule, ...] = ()
    status: StatusComparison = StatusComparison.ALL
    default_namespace: str = ""
    """Namespace for namespaced manifests that omit it (the app's destination)."""
    concurrency: int = 32
    health_overrides: HealthOverrides | None = None
    managed_fields_base: bool = True
    """Without a server-side diff (off, or the dry run failed) and without a last-applied
    annotation, diff three-way against what our field manager last applied (managedFields), so a
    field dropped from Git shows as drift. False: Argo CD's two-way diff."""


@dataclass(frozen=True, slots=True)
class ResourceStatus:
    """One managed resource: its sync status, health and (masked) diff."""

    key: ResourceKey
    status: SyncStatus
    health: HealthResult | None
    diff: ResourceDiff | None = field(repr=False, default=None)
    requires_pruning: bool = False
    ignore_extraneous: bool = False
    note: str = ""
    shared_with: str = ""
    """Another application that tracks the live object (SharedResourceWarning)."""
    dry_run_fingerprint: str = ""
    """Identifies the server-side dry run made for this resource ("" when none was made)."""

    @property
    def drift(self) -> tuple[tuple[str, str | None], ...]:
        """``(field path, manager that last wrote the live value)`` for each changed field."""
        if self.diff is None:
            return ()
        return tuple((c.path, c.manager.manager if c.manager else None) for c in self.diff.changes)

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key.format(),
            "status": str(self.status),
            "health": (
                {"status": str(self.health.status), "message": self.health.message} if self.health else None
            ),
            "requiresPruning": self.requires_pruning,
            "note": self.note,
            "sharedWith": self.shared_with,
            "diff": self.diff.as_dict() if self.diff is not None else None,
        }


@dataclass(frozen=True, slots=True)
class CompareResult:
    sync_status: SyncStatus
    health: HealthResult
    resources: tuple[ResourceStatus, ...]
    warnings: tuple[str, ...] = ()
    """App conditions to show, e.g. ``SharedResourceWarning: ...``."""

    def resource(self, key: ResourceKey) -> ResourceStatus:
        for res in self.resources:
            if res.key == key:
                return res
        raise KeyError(key.format())

    @property
    def out_of_sync(self) -> tuple[ResourceStatus, ...]:
        return tuple(r for r in self.resources if r.status is SyncStatus.OUT_OF_SYNC)

    def prior_dry_runs(self) -> dict[ResourceKey, PriorDryRun]:
        """The server-side dry runs this compare made, for ``SyncExecutor(prior_dry_runs=...)``."""
        return {
            r.key: PriorDryRun(r.dry_run_fingerprint, in_sync=r.status is SyncStatus.SYNCED)
            for r in self.resources
            if r.dry_run_fingerprint
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "syncStatus": str(self.sync_status),
            "health": {"status": str(self.health.status), "message": self.health.message},
            "resources": [r.to_dict() for r in self.resources],
            "warnings": list(self.warnings),
        }


class CompareMemo:
    """Per-app memory of the last compare: a resource whose desired manifest and live
    ``resourceVersion`` are unchanged keeps its status (no dry run, no diff). Keep one per app
    and pass it to every :func:`compare_app` of that app; ``clear()`` on a hard refresh. A
    compare with other :class:`CompareSettings` than the last one starts from an empty memo."""

    def __init__(self) -> None:
        self._entries: dict[ResourceKey, tuple[Any, str, ResourceStatus]] = {}
        self._settings: Any = None
        self.hits = 0
        self.misses = 0

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)

    def use(self, settings: Any) -> None:
        """Forget everything when ``settings`` differ from those of the last compare."""
        if settings != self._settings:
            self._entries.clear()
            self._settings = settings

    def get(self, key: ResourceKey, desired: Any, version: str) -> ResourceStatus | None:
        """The remembered status when ``desired`` (compared by value) and the live version match."""
        entry = self._entries.get(key)
        if entry is not None and version and entry[1] == version and entry[0] == desired:
            self.hits += 1
            return entry[2]
        self.misses += 1
        return None

    def put(self, key: ResourceKey, desired: Any, version: str, status: ResourceStatus) -> None:
        """Remember ``status``; ``desired`` must not be mutated afterwards (pass a copy)."""
        self._entries[key] = (desired, version, status)

    def retain(self, keys: Iterable[ResourceKey]) -> None:
        wanted = keys if isinstance(keys, (set, frozenset)) else set(keys)
        for key in [k for k in self._entries if k not in wanted]:
            del self._entries[key]


def resource_key(manifest: Mapping[str, Any], default_namespace: str = "") -> ResourceKey:
    """The key of a manifest; namespaced kinds without a namespace get ``default_namespace``."""
    key = ResourceKey.from_manifest(manifest)
    if not key.namespace and default_namespace and key.group_kind not in CLUSTER_SCOPED_KINDS:
        key = ResourceKey(key.group, key.kind, default_namespace, key.name)
    return key


def _annotations(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return (obj.get("metadata") or {}).get("annotations") or {}


def _compare_options(obj: Mapping[str, Any]) -> set[str]:
    raw = str(_annotations(obj).get(ann.ANNOTATION_COMPARE_OPTIONS) or "")
    return {part.strip() for part in raw.split(",") if part.strip()}


def _counts(obj: Mapping[str, Any]) -> bool:
    """Whether a manifest takes part in the sync status (not a hook, not Skip)."""
    annotations = _annotations(obj)
    if ann.ANNOTATION_HOOK not in annotations and ann.HELM_HOOK not in annotations:
        return True  # the common case, without building the hook info
    info = ann.hook_info({str(k): str(v) for k, v in annotations.items()})
    return not info.is_hook and not info.skip


async def compare_app(
    kube: Kube,
    desired: Iterable[Mapping[str, Any]],
    *,
    live: Iterable[Mapping[str, Any]] | Mapping[ResourceKey, Mapping[str, Any]] | None = None,
    live_lookup: LiveLookup | None = None,
    settings: CompareSettings | None = None,
    memo: CompareMemo | None = None,
) -> CompareResult:
    """Compare an app's desired manifests with the cluster (see the module docstring)."""
    settings = settings or CompareSettings()
    semaphore = asyncio.Semaphore(max(1, settings.concurrency))
    wanted: dict[ResourceKey, Mapping[str, Any]] = {}
    for manifest in desired:
        if _counts(manifest):
            wanted[resource_key(manifest, settings.default_namespace)] = manifest
    known: dict[ResourceKey, Mapping[str, Any]] = {}
    if isinstance(live, Mapping):  # keyed already, e.g. ``cache.snapshot(app)``
        known = {key: obj for key, obj in live.items() if _counts(obj)}
    else:
        for obj in live or ():
            if _counts(obj):
                known[ResourceKey.from_manifest(obj)] = obj

    async def fetch(key: ResourceKey, manifest: Mapping[str, Any]) -> Mapping[str, Any] | None:
        if key in known:
            return known[key]
        if live_lookup is not None:
            found = live_lookup(key)
            if inspect.isawaitable(found):
                found = await found
            return found
        try:
            async with semaphore:
                return await kube.get(
                    str(manifest.get("apiVersion") or ""), key.kind, key.name, key.namespace or None
                )
        except Exception as exc:
            if is_not_found(exc):
                return None
            raise

    async def one(key: ResourceKey) -> ResourceStatus:
        manifest = wanted.get(key)
        if manifest is None:
            obj = known[key]
            result = diff(None, obj, options=_options(settings, key))
            extraneous = "IgnoreExtraneous" in _compare_options(obj)
            return ResourceStatus(
                key=key,
                status=SyncStatus.SYNCED if extraneous else SyncStatus.OUT_OF_SYNC,
                health=assess(obj, overrides=settings.health_overrides),
                diff=result,
                requires_pruning=True,
                ignore_extraneous=extraneous,
            )
        current = await fetch(key, manifest)
        memo_version = ""
        if memo is not None and current is not None:
            memo_version = _version(current)
            hit = memo.get(key, manifest, memo_version)
            if hit is not None:
                return hit
        target = _target(manifest, key, settings.app_name)
        shared = tracked_by(current)
        shared = shared if shared and shared != settings.app_name else ""
        if current is None:
            result = diff(target, None, options=_options(settings, key))
            return ResourceStatus(
                key,
                SyncStatus.OUT_OF_SYNC,
                HealthResult(HealthStatus.MISSING),
                result,
                note="not found in the cluster",
            )
        note = ""
        fingerprint = ""
        predicted: Mapping[str, Any] | None = None
        if settings.server_side_diff:
            try:
                for _attempt in range(3):
                    async with semaphore:
                        predicted = await kube.apply(
                            target, field_manager=settings.field_manager, force=True, dry_run=True
                        )
                    # The prediction must start from the live object it is compared with: if a
                    # controller wrote in between, read live again (a dry run keeps the version).
                    if _version(predicted) == _version(current):
                        fingerprint = dry_run_fingerprint(target, settings.field_manager)
                        break
                    async with semaphore:
                        current = await kube.get(
                            str(manifest.get("apiVersion") or ""), key.kind, key.name, key.namespace or None
                        )
            except Exception as exc:
                predicted = None
                note = f"server-side diff failed, used the three-way diff: {exc}"
        mode = DiffMode.SERVER_SIDE if predicted is not None else DiffMode.THREE_WAY
        result = diff(target, current, predicted_live=predicted, options=_options(settings, key, mode))
        status = ResourceStatus(
            key=key,
            status=SyncStatus.OUT_OF_SYNC if result.modified else SyncStatus.SYNCED,
            health=assess(current, overrides=settings.health_overrides),
            diff=result,
            note=note,
            shared_with=shared,
            dry_run_fingerprint=fingerprint,
        )
        if memo is not None and not note and memo_version:
            # The fingerprint stays: the same object against the same live version dry-runs the same.
            memo.put(key, plain_copy(manifest), memo_version, status)
        return status

    every = set(wanted) | set(known)
    keys = sorted(every)
    if memo is not None:
        memo.use(settings)
    if not settings.server_side_diff and all(k in known for k in wanted):
        # Everything is in memory (e.g. a live-cache snapshot): no I/O, so no tasks to schedule.
        statuses = tuple([await one(k) for k in keys])
    else:
        statuses = tuple(await asyncio.gather(*(one(k) for k in keys)))
    if memo is not None:
        memo.retain(every)
    warnings = tuple(
        f"{SHARED_RESOURCE_WARNING}: {s.key.kind}/{s.key.name} is part of applications "
        f"{settings.app_name or '(this app)'} and {s.shared_with}"
        for s in statuses
        if s.shared_with
    )
    healths = [
        ResourceHealth(
            group=s.key.group,
            kind=s.key.kind,
            name=s.key.name,
            namespace=s.key.namespace,
            health=s.health,
            ignore_healthcheck=str(
                _annotations(known.get(s.key) or wanted.get(s.key) or {}).get(IGNORE_HEALTHCHECK)
            )
            == "true",
        )
        for s in statuses
    ]
    sync_status = (
        SyncStatus.OUT_OF_SYNC
        if any(s.status is SyncStatus.OUT_OF_SYNC for s in statuses)
        else SyncStatus.SYNCED
    )
    return CompareResult(
        sync_status=sync_status,
        health=aggregate(healths, expects_resources=bool(wanted)),
        resources=statuses,
        warnings=warnings,
    )


def _target(manifest: Mapping[str, Any], key: ResourceKey, app_name: str) -> dict[str, Any]:
    """``prepare_manifest`` without the deep copy: only the metadata that changes is copied, the
    rest is shared with ``manifest`` (the compare reads the target, it never mutates it)."""
    metadata = manifest.get("metadata")
    if not isinstance(metadata, Mapping):
        return prepare_manifest(manifest, key, app_name)
    new_metadata = dict(metadata)
    if key.namespace and not new_metadata.get("namespace"):
        new_metadata["namespace"] = key.namespace
    if app_name and key.name:
        new_metadata["annotations"] = {
            **(new_metadata.get("annotations") or {}),
            ann.ANNOTATION_TRACKING_ID: tracking_id(app_name, key),
        }
    return {**manifest, "metadata": new_metadata}


def _version(obj: Mapping[str, Any] | None) -> str:
    return str(((obj or {}).get("metadata") or {}).get("resourceVersion") or "")


def _options(settings: CompareSettings, key: ResourceKey, mode: DiffMode = DiffMode.AUTO) -> DiffOptions:
    return DiffOptions(
        mode=mode,
        ignore_rules=settings.ignore_rules,
        status=settings.status,
        default_namespace=key.namespace or settings.default_namespace,
        key=key,
        applied_by=settings.field_manager if settings.managed_fields_base else None,
    )
