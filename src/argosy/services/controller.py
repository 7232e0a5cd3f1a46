"""The Application controller: the reconcile loop and the only writer of Application status.

Layer 4 (``argosy.services``). May import: ``argosy.core``, ``argosy.ports``, ``argosy.model`` and the
other services. Everything it touches comes in through ports: the cluster (:class:`KubeWatch`), the
live cache (:class:`LiveCache`, satisfied by ``adapters.kube.livecache.ClusterCache``), the desired
state (:class:`~argosy.services.repo.RepoService`) and the history store. See docs/controller.md.

One reconcile of an application, in order:

1. deletion with the resources finalizer: prune what the app tracks (foreground), drop the finalizer;
2. effective sync policy (profiles) and project checks (``InvalidSpecError``);
3. desired state through the RepoService (``ComparisonError`` on a Git or render error: nothing is
   synced or pruned, the app is looked at again after a backoff);
4. comparison with the live cache: sync status, health, resources, drift, orphans;
5. the operation: the one in progress (resumed from ``status.argosy.operationProgress``), a user
   operation in ``.operation``, a retry, or an automated one from ``decide_auto_sync``;
6. the whole status written back with a resourceVersion-checked PUT (retried on conflict).

Applications are reconciled one at a time each, and up to ``workers`` in parallel.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import logging
import random
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import IntEnum
from typing import Any, Protocol, runtime_checkable

from argosy.core.automation import (
    SELF_HEAL_BACKOFF,
    ComparedResult,
    SelfHealBackoff,
    decide_auto_sync,
    retry_decision,
)
from argosy.core.diff.ignore import (
    IgnoreRule,
    parse_app_ignore_differences,
    parse_system_ignore_differences,
)
from argosy.core.health.overrides import HealthOverrides
from argosy.core.plan import OperationPhase, PlanOptions, build_plan
from argosy.core.profiles import EffectivePolicy, Profile, effective_sync_policy, parse_sync_policies
from argosy.core.project import (
    ResourceRef,
    check_application,
    check_resources,
    orphaned_resources,
    orphaned_resources_condition,
    orphaned_resources_monitored,
    sync_window_verdict,
)
from argosy.core.repocreds import (
    RepoCredsConfig,
    credentials_for_url,
    parse_repository_secrets,
    parse_ssh_known_hosts_configmap,
    parse_tls_certs_configmap,
)
from argosy.model.annotations import ANNOTATION_REFRESH, ANNOTATION_SYNC_OPTIONS, parse_sync_options
from argosy.model.application import (
    API_VERSION,
    CONDITION_INVALID_SPEC,
    CONDITION_ORPHANED_RESOURCE_WARNING,
    CONDITION_SYNC_ERROR,
    Application,
    ApplicationCondition,
    ApplicationStatus,
    AppProject,
    ArgosyStatus,
    DriftField,
    DriftStatus,
    HealthStatus,
    ModelError,
    Operation,
    OperationState,
    ResourceResult,
    ResourceStatus,
    RevisionHistory,
    RollbackHold,
    SyncOperation,
    SyncOperationResource,
    SyncResult,
    SyncStatus,
    format_time,
    parse_go_duration,
    parse_time,
    plain,
)
from argosy.model.history import DeploymentRecord, OperationKind, OperationRecord
from argosy.model.repository import RepoCredentials, SSHKnownHost
from argosy.model.resources import ResourceKey
from argosy.ports.history import HistoryStore
from argosy.ports.kube import Kube, KubeWatch, is_conflict, is_not_found
from argosy.ports.metrics import AppMetricsInfo, Metrics, NullMetrics, app_scope
from argosy.services.clusters import (
    IN_CLUSTER_NAME,
    ClusterConnection,
    ClusterConnector,
    ClusterError,
    ClusterSpec,
    is_cluster_secret,
    normalize_server,
    parse_cluster_secret,
)
from argosy.services.compare import CompareMemo, CompareResult, CompareSettings, compare_app
from argosy.services.repo import DesiredState, DesiredStateRequest, RepoService
from argosy.services.sync import (
    FIELD_MANAGER,
    OPERATION_TERMINATED,
    SyncExecutor,
    SyncSettings,
)
from argosy.services.sync import SyncResult as EngineResult

__all__ = [
    "CONDITION_COMPARISON_ERROR",
    "ROLLBACK_ANNOTATION",
    "Controller",
    "ControllerConfig",
    "ControllerSettings",
    "LiveCache",
    "drifted",
]

log = logging.getLogger(__name__)

CONDITION_COMPARISON_ERROR = "ComparisonError"
ROLLBACK_ANNOTATION = "argosy.io/rollback"
"""On the Application (or ``operation.info`` ``{name: rollback, value: <history id>}``): the operation
in ``.operation`` is a rollback to that ``status.history`` entry; auto-sync then holds."""
SECRET_TYPE_LABEL = "argocd.argoproj.io/secret-type"  # noqa: S105 (a label name)
DEFAULT_RECONCILIATION = 120.0
COMPARISON_ERROR_BACKOFF = 10.0
_MANAGED_CONDITIONS = (
    CONDITION_INVALID_SPEC,
    CONDITION_COMPARISON_ERROR,
    CONDITION_SYNC_ERROR,
    CONDITION_ORPHANED_RESOURCE_WARNING,
)


class LiveCache(Protocol):
    """What the controller needs from the live cache (``ClusterCache`` satisfies it)."""

    def subscribe(self, subscriber: Callable[[Any], Awaitable[None]]) -> Callable[[], None]: ...

    def snapshot(self, app_name: str) -> Mapping[ResourceKey, dict[str, Any]]: ...


@runtime_checkable
class LiveInventory(Protocol):
    """Every object the live cache holds (``ClusterCache`` has it): for orphaned resources. ``get``
    returns an entry with ``owners`` (owner references) and ``app`` (the tracking application)."""

    def keys(self) -> Sequence[ResourceKey]: ...

    def get(self, key: ResourceKey) -> Any: ...


def _known_orphan_exclusion(key: ResourceKey) -> bool:
    """Objects Kubernetes creates in every namespace, never reported as orphans (Argo CD's
    ``isKnownOrphanedResourceExclusion``)."""
    if key.group:
        return False
    return (
        (key.kind == "Service" and key.namespace == "default" and key.name == "kubernetes")
        or (key.kind == "ServiceAccount" and key.name == "default")
        or (key.kind == "ConfigMap" and key.name == "kube-root-ca.crt")
    )


class Level(IntEnum):
    """How much a reconcile re-reads: compare only (live changed), re-resolve revisions, re-render."""

    COMPARE = 0
    NORMAL = 1
    HARD = 2


def _now() -> datetime:
    return datetime.now(UTC)


# --- configuration ------------------------------------------------------------------------------------


@dataclass(slots=True)
class ControllerConfig:
    """What the controller reads from ConfigMaps and Secrets of its namespace; re-read on change.
    ``credentials`` is handed to the RepoService (it is looked up at every Git call)."""

    argocd_cm: dict[str, str] = field(default_factory=dict)
    profiles: Mapping[str, Profile] = field(default_factory=dict)
    repo_creds: RepoCredsConfig = field(default_factory=RepoCredsConfig)
    known_hosts: tuple[SSHKnownHost, ...] = ()
    tls_certs: dict[str, tuple[str, ...]] = field(default_factory=dict)
    health_overrides: HealthOverrides | None = None
    ignore_rules: tuple[IgnoreRule, ...] = ()
    clusters: tuple[ClusterSpec, ...] = ()
    """Destination clusters from cluster Secrets (``argocd.argoproj.io/secret-type: cluster``)."""
    problems: list[str] = field(default_factory=list)

    def credentials(self, url: str) -> RepoCredentials | None:
        return credentials_for_url(url, self.repo_creds)

    @property
    def reconciliation_timeout(self) -> float:
        raw = self.argocd_cm.get("timeout.reconciliation", "")
        if not raw:
            return DEFAULT_RECONCILIATION
        try:
            return parse_go_duration(raw).total_seconds()
        except ValueError:
            return DEFAULT_RECONCILIATION


@dataclass(frozen=True, slots=True)
class ControllerSettings:
    namespace: str = "argocd"
    workers: int = 10
    reconciliation_timeout: float | None = None
    """Seconds between periodic refreshes; ``None`` reads ``timeout.reconciliation`` (default 120 s)."""
    jitter: float = 0.1
    """Up to this fraction of the reconciliation timeout is added at random to each periodic refresh."""
    self_heal_backoff: SelfHealBackoff = SELF_HEAL_BACKOFF
    wave_delay: float = 2.0
    poll_interval: float = 0.5
    field_manager: str = FIELD_MANAGER
    cluster_server: str = "https://kubernetes.default.svc"
    deletion_timeout: float = 120.0


def drifted(apps: Iterable[Application]) -> list[Application]:
    """The applications whose live state drifted from Git: ``status.argosy.drift.detected`` (fields
    changed by another manager) or ``reason: LiveDrift`` (out of sync at the deployed revision)."""
    out = []
    for app in apps:
        argosy = app.status.argosy
        drift = argosy.drift if argosy is not None else None
        if drift is not None and (drift.detected or drift.extra.get("reason") == "LiveDrift"):
            out.append(app)
    return out


# --- the work queue ------------------------------------------------------------------------------------


class _WorkQueue:
    """Each name is processed by one worker at a time; a name added while processed runs again after."""

    def __init__(self) -> None:
        self._queue: asyncio.Queue[str] = asyncio.Queue()
        self._queued: set[str] = set()
        self._processing: set[str] = set()
        self._dirty: set[str] = set()
        self.levels: dict[str, Level] = {}
        self._timers: dict[tuple[str, str], asyncio.TimerHandle] = {}

    def add(self, name: str, level: Level = Level.COMPARE) -> None:
        self.levels[name] = max(level, self.levels.get(name, Level.COMPARE))
        if name in self._processing:
            self._dirty.add(name)
        elif name not in self._queued:
            self._queued.add(name)
            self._queue.put_nowait(name)

    def add_after(
        self, name: str, delay: float, level: Level = Level.COMPARE, *, slot: str = "requeue"
    ) -> None:
        """Add ``name`` after ``delay`` seconds; one pending timer per (name, slot), the earliest wins."""
        key = (name, slot)
        loop = asyncio.get_running_loop()
        old = self._timers.get(key)
        if old is not None and old.when() <= loop.time() + delay:
            return
        if old is not None:
            old.cancel()

        def fire() -> None:
            self._timers.pop(key, None)
            self.add(name, level)

        self._timers[key] = loop.call_later(max(0.0, delay), fire)

    async def get(self) -> tuple[str, Level]:
        name = await self._queue.get()
        self._queued.discard(name)
        self._processing.add(name)
        return name, self.levels.pop(name, Level.COMPARE)

    def done(self, name: str) -> None:
        self._processing.discard(name)
        if name in self._dirty:
            self._dirty.discard(name)
            if name not in self._queued:
                self._queued.add(name)
                self._queue.put_nowait(name)

    def close(self) -> None:
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()


# --- helpers -----------------------------------------------------------------------------------------


def _watch_fingerprint(obj: Mapping[str, Any]) -> str:
    """What makes an Application change worth a reconcile (not our own status writes)."""
    meta = obj.get("metadata") or {}
    return json.dumps(
        {
            "spec": obj.get("spec"),
            "operation": obj.get("operation"),
            "annotations": meta.get("annotations"),
            "labels": meta.get("labels"),
            "finalizers": meta.get("finalizers"),
            "deletion": meta.get("deletionTimestamp"),
        },
        sort_keys=True,
        default=str,
    )


def _terminating(obj: Mapping[str, Any]) -> bool:
    """``status.operationState.phase == Terminating`` (set by the API or ``kubectl patch``)."""
    state = (obj.get("status") or {}).get("operationState") or {}
    return isinstance(state, Mapping) and state.get("phase") == "Terminating"


DRIFT_LIVE = "LiveDrift"
DRIFT_NEW_REVISION = "NewRevision"
DRIFT_REQUIRES_PRUNING = "RequiresPruning"


def _out_of_sync_reason(status: ApplicationStatus, desired: DesiredState, compare: CompareResult) -> str:
    """Why an OutOfSync app is out of sync (``status.argosy.drift.reason``): ``NewRevision`` when Git's
    target is not the last deployed revision (``status.history``), ``LiveDrift`` when it is and a
    managed object differs or is missing (someone changed the cluster), ``RequiresPruning`` when only
    objects Git removed are left; empty when Synced."""
    if str(compare.sync_status) != "OutOfSync":
        return ""
    deployed: tuple[str, ...] = ()
    if status.history:
        last = status.history[-1]
        deployed = tuple(last.revisions) if last.revisions else (last.revision,)
    if not deployed or tuple(desired.revisions) != deployed:
        return DRIFT_NEW_REVISION
    if any(not r.requires_pruning for r in compare.out_of_sync):
        return DRIFT_LIVE
    return DRIFT_REQUIRES_PRUNING


def _is_rollback(app: Application, op: Operation) -> int:
    """The history id a rollback operation returns to, else 0."""
    for entry in op.info:
        if entry.get("name") == "rollback":
            with contextlib.suppress(TypeError, ValueError):
                return int(str(entry.get("value")))
    raw = app.metadata.annotations.get(ROLLBACK_ANNOTATION)
    if raw and op.sync is not None and (op.sync.revision or op.sync.revisions):
        with contextlib.suppress(ValueError):
            return int(raw)
    return 0


def _conditions(
    previous: Sequence[ApplicationCondition], wanted: Sequence[ApplicationCondition], now: str
) -> tuple[ApplicationCondition, ...]:
    """Our condition types replaced by ``wanted`` (transition times kept when unchanged); others kept."""
    kept = [c for c in previous if c.type not in _MANAGED_CONDITIONS]
    old = {(c.type, c.message): c.last_transition_time for c in previous}
    out = list(kept)
    seen: set[tuple[str, str]] = set()
    for c in wanted:
        if (c.type, c.message) in seen:
            continue
        seen.add((c.type, c.message))
        out.append(
            replace(c, last_transition_time=old.get((c.type, c.message)) or c.last_transition_time or now)
        )
    return tuple(out)


def _resource_op(key: ResourceKey) -> SyncOperationResource:
    return SyncOperationResource(group=key.group, kind=key.kind, name=key.name, namespace=key.namespace)


def _key_of(r: SyncOperationResource) -> ResourceKey:
    return ResourceKey(r.group, r.kind, r.namespace, r.name)


def _environment(app: Application) -> str:
    return app.metadata.labels.get("environment", "")


def _op_kind(app: Application, op: Operation) -> OperationKind:
    if _is_rollback(app, op):
        return OperationKind.ROLLBACK
    if op.initiated_by.automated:
        sync = op.sync
        if sync is not None and sync.self_heal_attempts_count > 0:
            return OperationKind.SELF_HEAL
        return OperationKind.AUTO_SYNC
    return OperationKind.SYNC


@dataclass(slots=True)
class _Outcome:
    """What one reconcile decided to write."""

    status: ApplicationStatus
    clear_operation: Operation | None = None
    requeue_after: float | None = None


@dataclass(slots=True)
class _Target:
    """Where an application's objects live: the client and live cache of its destination cluster."""

    kube: KubeWatch
    cache: LiveCache
    spec: ClusterSpec | None
    """None: the in-cluster destination."""


# --- the controller -----------------------------------------------------------------------------------


class Controller:
    """``await controller.run()`` reconciles until ``stop()``; with a leader elector, only while leading.

    ``on_repo_settings(known_hosts, tls_certs)`` is called whenever those ConfigMaps change (the
    bootstrap passes the Git client's setters). ``metrics`` receives the reconcile, operation and
    app-state measurements (Argo CD's series). ``on_app_written(app)`` is called in the background with
    each Application the controller wrote (the notifier's feed); its errors are logged, never raised.
    """

    def __init__(
        self,
        kube: KubeWatch,
        cache: LiveCache,
        repo: RepoService,
        history: HistoryStore,
        *,
        settings: ControllerSettings | None = None,
        config: ControllerConfig | None = None,
        on_repo_settings: Callable[[tuple[SSHKnownHost, ...], Mapping[str, Sequence[str]]], None]
        | None = None,
        clock: Callable[[], datetime] = _now,
        metrics: Metrics | None = None,
        on_app_written: Callable[[Mapping[str, Any]], Awaitable[None]] | None = None,
        clusters: ClusterConnector | None = None,
        sync_kube: Kube | None = None,
    ) -> None:
        self.kube = kube
        self._sync_kube = sync_kube
        """Writes of syncs to the in-cluster destination (bootstrap: its own HTTP/2 client)."""
        self._memos: dict[str, tuple[str, CompareMemo]] = {}
        """Per application: (destination server, compare memo kept across refreshes)."""
        self._connector = clusters
        self._connections: dict[str, tuple[str, ClusterConnection, Callable[[], None]]] = {}
        """Open connections to destination clusters: server -> (spec fingerprint, connection, unsubscribe)."""
        self._connecting: dict[str, asyncio.Lock] = {}
        self.metrics: Metrics = metrics if metrics is not None else NullMetrics()
        self._on_app_written = on_app_written
        self.cache = cache
        self.repo = repo
        self.history = history
        self.settings = settings or ControllerSettings()
        self.config = config or ControllerConfig()
        self._on_repo_settings = on_repo_settings
        self._clock = clock
        self._apps: dict[str, dict[str, Any]] = {}
        self._fingerprints: dict[str, str] = {}
        self._projects: dict[str, AppProject] = {}
        self._configmaps: dict[str, dict[str, Any]] = {}
        self._secrets: dict[str, dict[str, Any]] = {}
        self._queue = _WorkQueue()
        self._stop = asyncio.Event()
        self._namespaced: dict[tuple[str, str, str], bool] = {}
        self.reconciles = 0
        self.reconciled: dict[str, int] = {}
        """Reconcile count per application (tests check which controller did the work)."""
        self.ready = asyncio.Event()
        self._background: set[asyncio.Task[None]] = set()
        self._rollbacks_noted_healthy: dict[tuple[str, str], str] = {}
        self._executors: dict[str, SyncExecutor] = {}
        """The operation running in this process, per application (to terminate it)."""

    # --- lifecycle -------------------------------------------------------------------------------

    def stop(self) -> None:
        self._stop.set()

    async def run(self) -> None:
        """Watch and reconcile until :meth:`stop` (or cancellation)."""
        ns = self.settings.namespace
        self._queue = _WorkQueue()
        await self._load_config()
        tasks = [
            asyncio.create_task(self._watch_loop("v1", "ConfigMap", ns, None, self._on_configmap), name="cm"),
            asyncio.create_task(
                self._watch_loop("v1", "Secret", ns, SECRET_TYPE_LABEL, self._on_secret), name="secrets"
            ),
            asyncio.create_task(self._watch_loop(API_VERSION, "AppProject", ns, None, self._on_project)),
            asyncio.create_task(self._watch_loop(API_VERSION, "Application", ns, None, self._on_app)),
        ]
        unsubscribe = self.cache.subscribe(self._on_live_changes)
        workers = [
            asyncio.create_task(self._worker(i), name=f"reconcile-{i}")
            for i in range(max(1, self.settings.workers))
        ]
        self.ready.set()
        try:
            await self._stop.wait()
        finally:
            self.ready.clear()
            unsubscribe()
            self._queue.close()
            for task in (*tasks, *workers):
                task.cancel()
            await asyncio.gather(*tasks, *workers, return_exceptions=True)
            await self._drain_background()
            for server in list(self._connections):
                await self._disconnect(server)

    async def _drain_background(self, timeout: float = 10.0) -> None:
        """Let the history writes in flight finish (they read the Git cache and the database), then
        cancel what is left: a task left pending when the loop closes would be dropped mid-write and
        leave its git child unreaped."""
        pending = set(self._background)
        if not pending:
            return
        _, still_running = await asyncio.wait(pending, timeout=timeout)
        for task in still_running:
            task.cancel()
        await asyncio.gather(*still_running, return_exceptions=True)

    # --- configuration ---------------------------------------------------------------------------

    async def _load_config(self) -> None:
        ns = self.settings.namespace
        with contextlib.suppress(Exception):
            for cm in (await self.kube.list("v1", "ConfigMap", ns)).items:
                self._configmaps[str(cm["metadata"]["name"])] = cm
        with contextlib.suppress(Exception):
            for s in (await self.kube.list("v1", "Secret", ns, label_selector=SECRET_TYPE_LABEL)).items:
                self._secrets[str(s["metadata"]["name"])] = s
        self._rebuild_config()

    def _rebuild_config(self) -> None:
        cfg = ControllerConfig()
        cm = self._configmaps.get("argocd-cm")
        cfg.argocd_cm = {str(k): str(v) for k, v in ((cm or {}).get("data") or {}).items()}
        try:
            cfg.health_overrides = HealthOverrides.from_argocd_cm(cfg.argocd_cm) or None
        except Exception as exc:
            cfg.problems.append(f"argocd-cm health customizations: {exc}")
        try:
            cfg.ignore_rules = parse_system_ignore_differences(cfg.argocd_cm)
        except Exception as exc:
            cfg.problems.append(f"argocd-cm ignoreDifferences: {exc}")
        policies = self._configmaps.get("sync-policies")
        if policies is not None:
            try:
                cfg.profiles = parse_sync_policies(policies)
            except Exception as exc:
                cfg.problems.append(str(exc))
        cfg.repo_creds = parse_repository_secrets(self._secrets.values())
        clusters = []
        for secret in self._secrets.values():
            if not is_cluster_secret(secret):
                continue
            try:
                clusters.append(parse_cluster_secret(secret))
            except ClusterError as exc:
                cfg.problems.append(str(exc))
        cfg.clusters = tuple(clusters)
        cfg.problems.extend(cfg.repo_creds.problems)
        known = self._configmaps.get("argocd-ssh-known-hosts-cm")
        if known is not None:
            with contextlib.suppress(Exception):
                cfg.known_hosts = parse_ssh_known_hosts_configmap(known)
        certs = self._configmaps.get("argocd-tls-certs-cm")
        if certs is not None:
            with contextlib.suppress(Exception):
                cfg.tls_certs = parse_tls_certs_configmap(certs)
        for problem in cfg.problems:
            log.warning("configuration: %s", problem)
        # Mutate in place: the RepoService holds a reference to ``credentials``.
        for name in ControllerConfig.__slots__:
            setattr(self.config, name, getattr(cfg, name))
        if self._on_repo_settings is not None:
            self._on_repo_settings(cfg.known_hosts, cfg.tls_certs)

    def _enqueue_all(self, level: Level) -> None:
        for name in list(self._apps):
            self._queue.add(name, level)

    async def _on_configmap(self, kind: str, obj: dict[str, Any]) -> None:
        name = str(obj["metadata"]["name"])
        if name not in ("argocd-cm", "sync-policies", "argocd-ssh-known-hosts-cm", "argocd-tls-certs-cm"):
            return
        if kind == "DELETED":
            self._configmaps.pop(name, None)
        else:
            old = self._configmaps.get(name)
            if old is not None and old.get("data") == obj.get("data"):
                return
            self._configmaps[name] = obj
        self._rebuild_config()
        self._enqueue_all(Level.NORMAL)

    async def _on_secret(self, kind: str, obj: dict[str, Any]) -> None:
        name = str(obj["metadata"]["name"])
        if kind == "DELETED":
            self._secrets.pop(name, None)
        else:
            self._secrets[name] = obj
        self._rebuild_config()
        wanted = {c.server: c.fingerprint for c in self.config.clusters}
        for server, (fingerprint, _conn, _unsub) in list(self._connections.items()):
            if wanted.get(server) != fingerprint:
                await self._disconnect(server)  # removed or changed: reconnect when next needed
        self._enqueue_all(Level.NORMAL)

    # --- destination clusters --------------------------------------------------------------------

    def _cluster_names(self) -> dict[str, str]:
        """Cluster name -> server, for project destinations written with the other one."""
        names = {IN_CLUSTER_NAME: normalize_server(self.settings.cluster_server)}
        names.update({spec.name: spec.server for spec in self.config.clusters})
        return names

    def _cluster_spec(self, app: Application) -> tuple[ClusterSpec | None, str]:
        """The destination's cluster: ``(None, "")`` for in-cluster, ``(spec, "")`` for a cluster
        Secret, ``(None, message)`` when no cluster matches (Argo CD's wording)."""
        dest = app.spec.destination
        server = normalize_server(dest.server)
        in_cluster = normalize_server(self.settings.cluster_server)
        if server:
            if server == in_cluster:
                return None, ""  # a Secret for the in-cluster URL only names it: our own client
            for spec in self.config.clusters:
                if spec.server == server:
                    return spec, ""
            return None, f"unable to find destination server: there are no clusters with this URL: {server}"
        if dest.name:
            for spec in self.config.clusters:
                if spec.name == dest.name:
                    return (None if spec.server == in_cluster else spec), ""
            if dest.name == IN_CLUSTER_NAME:
                return None, ""
            return (
                None,
                f"unable to find destination server: there are no clusters with this name: {dest.name}",
            )
        return None, ""

    async def _target(self, spec: ClusterSpec | None) -> _Target:
        """The client and live cache of the destination (opened on first use, then kept)."""
        if spec is None:
            return _Target(self.kube, self.cache, None)
        if self._connector is None:
            raise ClusterError(f"cluster {spec.name!r}: remote clusters are not supported by this controller")
        lock = self._connecting.setdefault(spec.server, asyncio.Lock())
        async with lock:
            entry = self._connections.get(spec.server)
            if entry is not None and entry[0] != spec.fingerprint:
                await self._disconnect(spec.server)
                entry = None
            if entry is None:
                conn = await self._connector.connect(spec)
                unsubscribe = conn.cache.subscribe(self._on_live_changes)
                entry = (spec.fingerprint, conn, unsubscribe)
                self._connections[spec.server] = entry
        conn = entry[1]
        return _Target(conn.kube, conn.cache, spec)

    async def _disconnect(self, server: str) -> None:
        entry = self._connections.pop(server, None)
        if entry is None:
            return
        _fingerprint, conn, unsubscribe = entry
        unsubscribe()
        try:
            await conn.close()
        except Exception as exc:
            log.info("closing the connection to %s: %s", server, exc)

    async def _on_project(self, kind: str, obj: dict[str, Any]) -> None:
        name = str(obj["metadata"]["name"])
        if kind == "DELETED":
            self._projects.pop(name, None)
        else:
            try:
                self._projects[name] = AppProject.from_dict(obj)
            except ModelError as exc:
                log.warning("AppProject %s is invalid: %s", name, exc)
                self._projects.pop(name, None)
        for app_name, raw in list(self._apps.items()):
            if ((raw.get("spec") or {}).get("project") or "default") == name:
                self._queue.add(app_name, Level.COMPARE)

    async def _on_app(self, kind: str, obj: dict[str, Any]) -> None:
        name = str(obj["metadata"]["name"])
        if kind == "DELETED":
            self._apps.pop(name, None)
            self._fingerprints.pop(name, None)
            self._memos.pop(name, None)
            with contextlib.suppress(Exception):
                self.metrics.delete_app(str(obj["metadata"].get("namespace") or ""), name)
            return
        self._apps[name] = obj
        if _terminating(obj):
            executor = self._executors.get(name)
            if executor is not None:
                executor.request_termination()
            elif name in self._fingerprints:
                self._queue.add(name, Level.COMPARE)
        fingerprint = _watch_fingerprint(obj)
        if self._fingerprints.get(name) == fingerprint:
            return
        first = name not in self._fingerprints
        self._fingerprints[name] = fingerprint
        annotations = (obj.get("metadata") or {}).get("annotations") or {}
        level = Level.HARD if annotations.get(ANNOTATION_REFRESH) == "hard" else Level.NORMAL
        self._queue.add(name, level)
        if first:
            self._schedule_periodic(name)

    async def _on_live_changes(self, batch: Any) -> None:
        for app_name in getattr(batch, "apps", {}):
            if app_name in self._apps:
                self._queue.add(str(app_name), Level.COMPARE)

    def _schedule_periodic(self, name: str) -> None:
        timeout = self.settings.reconciliation_timeout
        if timeout is None:
            timeout = self.config.reconciliation_timeout
        if timeout <= 0:
            return
        delay = timeout + random.uniform(0, timeout * self.settings.jitter)  # noqa: S311 (jitter, not crypto)
        self._queue.add_after(name, delay, Level.NORMAL, slot="periodic")

    async def _watch_loop(
        self,
        api_version: str,
        kind: str,
        namespace: str,
        label_selector: str | None,
        handler: Callable[[str, dict[str, Any]], Awaitable[None]],
    ) -> None:
        """List, then watch; relist on expiry or error (with a small backoff)."""
        backoff = 0.5
        while not self._stop.is_set():
            try:
                listed = await self.kube.list(api_version, kind, namespace, label_selector=label_selector)
                seen: set[str] = set()
                for item in listed.items:
                    seen.add(str(item["metadata"]["name"]))
                    await handler("ADDED", item)
                stores: dict[str, Mapping[str, object]] = {
                    "Application": self._apps,
                    "AppProject": self._projects,
                    "ConfigMap": self._configmaps,
                    "Secret": self._secrets,
                }
                for gone in set(stores[kind].keys()) - seen:
                    await handler("DELETED", {"metadata": {"name": gone}})
                rv = listed.resource_version
                while not self._stop.is_set():
                    events = self.kube.watch(
                        api_version, kind, namespace, resource_version=rv, label_selector=label_selector
                    )
                    async with contextlib.aclosing(events):  # type: ignore[type-var]
                        async for event in events:
                            if event.type == "BOOKMARK":
                                rv = str((event.object.get("metadata") or {}).get("resourceVersion") or rv)
                                continue
                            rv = str((event.object.get("metadata") or {}).get("resourceVersion") or rv)
                            await handler(event.type, event.object)
                    backoff = 0.5
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if getattr(exc, "status", None) != 410:
                    log.info("watch of %s failed (%s); listing again in %.1fs", kind, exc, backoff)
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, 10.0)

    # --- workers ---------------------------------------------------------------------------------

    async def _worker(self, index: int) -> None:
        while True:
            name, level = await self._queue.get()
            try:
                requeue = await self.reconcile(name, level)
                if requeue is not None:
                    self._queue.add_after(name, requeue, Level.COMPARE)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("reconcile of %s failed", name)
                self._queue.add_after(name, 5.0, Level.NORMAL)
            finally:
                self._queue.done(name)
            if level >= Level.NORMAL and name in self._apps:
                self._schedule_periodic(name)

    def enqueue(self, name: str, *, hard: bool = False) -> None:
        """Ask for a refresh of one application (tests, API)."""
        self._queue.add(name, Level.HARD if hard else Level.NORMAL)

    # --- reconcile -------------------------------------------------------------------------------

    async def _get_app(self, name: str) -> dict[str, Any] | None:
        try:
            return await self.kube.get(API_VERSION, "Application", name, self.settings.namespace)
        except Exception as exc:
            if is_not_found(exc):
                return None
            raise

    async def reconcile(self, name: str, level: Level = Level.NORMAL) -> float | None:
        """One reconcile; returns seconds after which to look again, or None."""
        raw = await self._get_app(name)
        if raw is None:
            return None
        self.reconciles += 1
        self.reconciled[name] = self.reconciled.get(name, 0) + 1
        try:
            app = Application.from_dict(raw)
        except ModelError as exc:
            log.warning("Application %s cannot be read: %s", name, exc)
            return None
        # Kubernetes requests made from here on count for this app (argocd_app_k8s_request_total).
        dry_run = bool(app.operation and app.operation.sync and app.operation.sync.dry_run)
        with app_scope(app.namespace, app.name, app.spec.project_name, dry_run=dry_run):
            if app.metadata.being_deleted:
                return await self._finalize(app, raw)
            if app.refresh_requested == "hard":
                level = Level.HARD
            elif app.refresh_requested:
                level = max(level, Level.NORMAL)
            outcome = await self._reconcile(app, level)
            await self._write(name, outcome, remove_refresh=bool(app.refresh_requested))
        self._report_state(app, outcome.status)
        return outcome.requeue_after

    def _report_state(self, app: Application, status: ApplicationStatus) -> None:
        """``argocd_app_info`` / ``argocd_app_health_status`` after a compare."""
        try:
            sources = app.spec.raw_sources()
            policy = app.spec.sync_policy
            running = status.operation_state is not None and status.operation_state.phase == "Running"
            self.metrics.set_app_state(
                AppMetricsInfo(
                    namespace=app.namespace,
                    name=app.name,
                    project=app.spec.project_name,
                    dest_server=app.spec.destination.server or app.spec.destination.name,
                    dest_namespace=app.spec.destination.namespace,
                    repo=str(sources[0].get("repoURL") or "") if sources else "",
                    sync_status=(status.sync.status if status.sync else "") or "Unknown",
                    health_status=(status.health.status if status.health else "") or "Unknown",
                    operation="delete" if app.metadata.being_deleted else ("sync" if running else ""),
                    autosync_enabled=policy is not None and policy.automation_enabled,
                )
            )
        except Exception as exc:
            log.warning("metrics: %s", exc)

    async def _project_of(self, app: Application) -> AppProject | None:
        name = app.spec.project_name
        project = self._projects.get(name)
        if project is None and name == "default":
            return AppProject.default(self.settings.namespace)
        return project

    async def _is_namespaced(
        self, api_version: str, kind: str, manifest: Mapping[str, Any], target: _Target | None = None
    ) -> bool:
        kube = target.kube if target is not None else self.kube
        server = target.spec.server if target is not None and target.spec is not None else ""
        cache_key = (server, api_version, kind)
        if cache_key not in self._namespaced:
            try:
                self._namespaced[cache_key] = (await kube.resource(api_version, kind)).namespaced
            except Exception:
                # Unknown kind (a CRD of the same sync): trust the manifest.
                return bool((manifest.get("metadata") or {}).get("namespace"))
        return self._namespaced[cache_key]

    def _request(self, app: Application, revisions: Sequence[str] | None = None) -> DesiredStateRequest:
        sources = app.spec.application_sources()
        if revisions:
            sources = tuple(
                replace(s, target_revision=r) if r else s
                for s, r in zip(sources, list(revisions) + [""] * len(sources), strict=False)
            )
        return DesiredStateRequest(
            app_name=app.name, namespace=app.spec.destination.namespace, sources=tuple(sources)
        )

    async def _reconcile(self, app: Application, level: Level) -> _Outcome:
        started = time.monotonic()
        now = self._clock()
        stamp = format_time(now)
        status = app.status
        policy = effective_sync_policy(app, self.config.profiles)
        argosy = policy.to_status(status.argosy)
        conditions: list[ApplicationCondition] = []
        if policy.condition is not None:
            conditions.append(policy.condition)
        project = await self._project_of(app)
        if project is None:
            conditions.append(
                ApplicationCondition(
                    type=CONDITION_INVALID_SPEC,
                    message=f"Application referencing project {app.spec.project_name} which does not exist",
                )
            )
        else:
            conditions.extend(
                ApplicationCondition(type=v.condition, message=v.message)
                for v in check_application(
                    project,
                    app,
                    control_namespace=self.settings.namespace,
                    clusters=self._cluster_names(),
                )
            )
        cluster, unknown_cluster = self._cluster_spec(app)
        if unknown_cluster:
            conditions.append(ApplicationCondition(type=CONDITION_INVALID_SPEC, message=unknown_cluster))
        if project is None or any(c.type == CONDITION_INVALID_SPEC for c in conditions):
            new_status = replace(
                status,
                sync=replace(status.sync or SyncStatus(), status="Unknown"),
                conditions=_conditions(status.conditions, conditions, stamp),
                reconciled_at=stamp,
                argosy=argosy,
            )
            clear = None
            if app.operation is not None:
                new_status = replace(
                    new_status,
                    operation_state=OperationState(
                        operation=app.operation,
                        phase="Failed",
                        message="the application spec is invalid: "
                        + "; ".join(c.message for c in conditions if c.is_error),
                        started_at=stamp,
                        finished_at=stamp,
                    ),
                )
                clear = app.operation
            return _Outcome(new_status, clear_operation=clear)

        # --- destination cluster and desired state ---------------------------------------------------
        try:
            target = await self._target(cluster)
        except Exception as exc:
            name = cluster.name if cluster is not None else "in-cluster"
            log.warning("cluster %s: %s", name, exc)
            target = None
            failure = f"Failed to load live state: cannot connect to cluster {name!r}: {exc}"
        try:
            if target is None:
                raise RuntimeError(failure)
            desired = await self.repo.desired_state(
                self._request(app), refresh=level >= Level.NORMAL, hard_refresh=level >= Level.HARD
            )
        except Exception as exc:
            conditions.append(
                ApplicationCondition(
                    type=CONDITION_COMPARISON_ERROR,
                    message=str(exc) if target is None else f"Failed to load target state: {exc}",
                )
            )
            new_status = replace(
                status,
                sync=replace(status.sync or SyncStatus(), status="Unknown"),
                conditions=_conditions(status.conditions, conditions, stamp),
                reconciled_at=stamp,
                argosy=argosy,
            )
            return _Outcome(new_status, requeue_after=COMPARISON_ERROR_BACKOFF)

        blocked: list[str] = []
        refs = []
        dest_ns = app.spec.destination.namespace
        for m in desired.manifests:
            namespaced = await self._is_namespaced(
                str(m.get("apiVersion") or ""), str(m.get("kind")), m, target
            )
            key = ResourceKey.from_manifest(m)
            if namespaced and not key.namespace:
                key = ResourceKey(key.group, key.kind, dest_ns, key.name)
            refs.append(ResourceRef(key=key, namespaced=namespaced))
        if cluster is not None and cluster.namespaces:
            # Namespaced mode (the Secret's ``namespaces``), as Argo CD's sync checks it.
            for ref in refs:
                if not ref.namespaced and not cluster.cluster_resources:
                    message = (
                        f'Cluster level {ref.key.kind} "{ref.key.name}" can not be managed when in '
                        "namespaced mode"
                    )
                elif ref.namespaced and not cluster.namespace_allowed(ref.key.namespace):
                    message = (
                        f'{ref.key.kind} "{ref.key.name}": namespace "{ref.key.namespace}" is not '
                        f"managed by cluster {cluster.name!r}"
                    )
                else:
                    continue
                conditions.append(ApplicationCondition(type=CONDITION_SYNC_ERROR, message=message))
                blocked.append(message)
        for violation in check_resources(project, refs):
            conditions.append(ApplicationCondition(type=violation.condition, message=violation.message))
            blocked.append(violation.message)

        # --- compare ---------------------------------------------------------------------------------
        compare = await self._compare(app, desired, target, hard=level >= Level.HARD)
        if orphaned_resources_monitored(project):
            orphans = await self._orphans(app, project, compare, target)
            cond = orphaned_resources_condition(project, orphans)
            if cond is not None:
                conditions.append(ApplicationCondition(type=cond.condition, message=cond.message))

        self._note_healthy(app, compare, desired, now)
        # argocd_app_reconcile: the compare (desired state, live state, diff), not the operation.
        with contextlib.suppress(Exception):
            self.metrics.observe_reconcile(
                app.namespace,
                app.spec.destination.server or app.spec.destination.name,
                time.monotonic() - started,
            )
        status = self._compared_status(
            app, status=status, desired=desired, compare=compare, argosy=argosy, stamp=stamp
        )

        # --- operation -------------------------------------------------------------------------------
        state = status.operation_state
        progress = (status.argosy.extra if status.argosy else {}).get("operationProgress")
        clear = None
        requeue: float | None = None
        run_op: Operation | None = None
        resume: str | None = None
        retry_count = 0
        terminating = state is not None and state.phase == "Terminating"
        if terminating and state is not None:
            # Asked to stop, with no executor of ours running it (a restart, a retry waiting):
            # finish it now from the saved progress (running hooks are deleted).
            next_at = parse_time(str((progress or {}).get("nextAttemptAt") or ""))
            run_op = state.operation
            resume = (progress or {}).get("state") if next_at is None else None
            retry_count = state.retry_count
        elif state is not None and state.phase == "Running":
            # In progress (a restart, or a retry waiting for its time).
            next_at = parse_time(str((progress or {}).get("nextAttemptAt") or ""))
            if next_at is not None and next_at > now:
                requeue = (next_at - now).total_seconds()
            else:
                run_op = state.operation
                resume = (progress or {}).get("state") if next_at is None else None
                retry_count = state.retry_count
        elif app.operation is not None:
            run_op = app.operation
        elif not blocked:
            comparison = self._compared_result(app, desired, compare)
            verdict = sync_window_verdict(project, app, now, manual=False)
            decision = decide_auto_sync(
                app_with_status(app, status),
                comparison,
                now,
                policy=policy,
                window_allows=verdict.allowed,
                window_reason=verdict.reason,
                self_heal_backoff=self.settings.self_heal_backoff,
            )
            if decision.condition is not None:
                conditions.append(decision.condition)
            if decision.requeue_after is not None:
                requeue = decision.requeue_after.total_seconds() + 0.05
            if decision.release_rollback_hold and status.argosy is not None:
                status = replace(status, argosy=replace(status.argosy, rollback_hold=None))
            if decision.run and decision.operation is not None:
                run_op = decision.operation
        if run_op is not None and blocked:
            status = replace(
                status,
                operation_state=OperationState(
                    operation=run_op,
                    phase="Failed",
                    message="; ".join(blocked),
                    started_at=stamp,
                    finished_at=stamp,
                ),
            )
            clear = app.operation
            run_op = None
        status = replace(status, conditions=_conditions(app.status.conditions, conditions, stamp))
        if run_op is not None:
            if app.operation is not None and (run_op is app.operation or run_op == app.operation):
                clear = app.operation
            status, again = await self._operate(
                app,
                status=status,
                policy=policy,
                op=run_op,
                desired=desired,
                compare=compare,
                resume=resume,
                retry_count=retry_count,
                terminate=terminating,
                cluster_target=target,
            )
            if again is not None:
                requeue = again
                clear = (
                    None if status.operation_state and status.operation_state.phase == "Running" else clear
                )
            else:
                # Compare again soon: the sync changed the live state.
                requeue = 0.0
        return _Outcome(status, clear_operation=clear, requeue_after=requeue)

    async def _compare(
        self, app: Application, desired: DesiredState, target: _Target, *, hard: bool = False
    ) -> CompareResult:
        rules = self.config.ignore_rules
        with contextlib.suppress(Exception):
            rules = rules + parse_app_ignore_differences([plain(x) for x in app.spec.ignore_differences])
        # The memo skips the dry run and diff of resources whose manifest and live version did not
        # change since the last refresh (docs/engine.md); a hard refresh starts from scratch.
        server = target.spec.server if target.spec is not None else ""
        entry = self._memos.get(app.name)
        if entry is None or entry[0] != server or hard:
            entry = self._memos[app.name] = (server, CompareMemo())
        return await compare_app(
            target.kube,
            desired.manifests,
            live=target.cache.snapshot(app.name),
            settings=CompareSettings(
                app_name=app.name,
                field_manager=self.settings.field_manager,
                ignore_rules=rules,
                default_namespace=app.spec.destination.namespace,
                health_overrides=self.config.health_overrides,
            ),
            memo=entry[1],
        )

    async def _orphans(
        self, app: Application, project: AppProject, compare: CompareResult, target: _Target
    ) -> list[ResourceKey]:
        """Argo CD's orphaned resources: top-level objects (no owner references) of every type the
        live cache watches, in the destination namespace, that no application tracks, except
        Argo CD's known exclusions and the project's ``orphanedResources.ignore``."""
        ns = app.spec.destination.namespace
        cache = target.cache
        if not ns or not isinstance(cache, LiveInventory):
            return []
        live: list[ResourceKey] = []
        for key in cache.keys():  # noqa: SIM118 (a cache, not a dict)
            if key.namespace != ns or _known_orphan_exclusion(key):
                continue
            entry = cache.get(key)
            if entry is None or bool(getattr(entry, "owners", None)) or bool(getattr(entry, "app", None)):
                continue
            live.append(key)
        managed = [r.key for r in compare.resources]
        return list(orphaned_resources(project, live, managed, [ns]))

    def _note_healthy(
        self, app: Application, compare: CompareResult, desired: DesiredState, now: datetime
    ) -> None:
        """Tell the history store when the app first becomes Synced and Healthy at a revision."""
        if app.status.argosy is not None and app.status.argosy.rollback_hold is not None:
            self._note_rollback_healthy(app, compare, now)
        revision = desired.revisions[0] if desired.revisions else ""
        if not revision or str(compare.sync_status) != "Synced" or str(compare.health.status) != "Healthy":
            return
        old = app.status
        if (
            old.sync is not None
            and old.sync.status == "Synced"
            and old.sync.revision == revision
            and old.health is not None
            and old.health.status == "Healthy"
        ):
            return

        async def write() -> None:
            try:
                await self.history.mark_healthy(app.namespace, app.name, revision, now)
            except Exception as exc:
                log.warning("history store: %s", exc)

        self._spawn(write())

    def _note_rollback_healthy(self, app: Application, compare: CompareResult, now: datetime) -> None:
        """A rollback restores service once the rolled-back revision runs Healthy, while the app stays
        OutOfSync with Git for as long as the hold lasts: record that moment for DORA's time to
        restore (``mark_healthy`` of the rollback's revision)."""
        state = app.status.operation_state
        result = state.sync_result if state is not None else None
        if state is None or state.phase != "Succeeded" or result is None or not result.revision:
            return
        if str(compare.health.status) != "Healthy":
            return
        key = (app.namespace, app.name)
        if self._rollbacks_noted_healthy.get(key) == result.revision:
            return
        self._rollbacks_noted_healthy[key] = result.revision
        revision = result.revision

        async def write() -> None:
            try:
                await self.history.mark_healthy(app.namespace, app.name, revision, now)
            except Exception as exc:
                log.warning("history store: %s", exc)

        self._spawn(write())

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _compared_status(
        self,
        app: Application,
        *,
        status: ApplicationStatus,
        desired: DesiredState,
        compare: CompareResult,
        argosy: ArgosyStatus,
        stamp: str,
    ) -> ApplicationStatus:
        versions = {}
        for m in desired.manifests:
            key = ResourceKey.from_manifest(m)
            versions[(key.group, key.kind, key.name)] = str(m.get("apiVersion") or "").rpartition("/")[2]
        resources = tuple(
            ResourceStatus(
                group=r.key.group,
                version=versions.get((r.key.group, r.key.kind, r.key.name), ""),
                kind=r.key.kind,
                namespace=r.key.namespace,
                name=r.key.name,
                status=str(r.status),
                health=HealthStatus(status=str(r.health.status), message=r.health.message)
                if r.health is not None
                else None,
                requires_pruning=r.requires_pruning,
            )
            for r in compare.resources
        )
        drift_fields: list[DriftField] = []
        for r in compare.resources:
            if r.requires_pruning or r.status != "OutOfSync" or r.diff is None:
                continue
            if r.health is not None and str(r.health.status) == "Missing":
                continue
            for path, manager in r.drift:
                if manager and manager != self.settings.field_manager:
                    drift_fields.append(
                        DriftField(path=f"{r.key.format()}:{path}", manager=manager, time=stamp)
                    )
        previous = argosy.drift
        reason = _out_of_sync_reason(status, desired, compare)
        extra = {"reason": reason} if reason else {}
        if drift_fields:
            drift = DriftStatus(detected=True, fields=tuple(drift_fields), extra=extra)
        elif previous is not None and previous.fields:
            # Keep the last drift (what changed, who changed it) for people to read; it is healed.
            drift = replace(previous, detected=False, extra=extra)
        else:
            drift = DriftStatus(detected=False, extra=extra)
        argosy = replace(argosy, drift=drift)
        revision = desired.revisions[0] if desired.revisions else ""
        multi = app.spec.has_multiple_sources
        health = HealthStatus(status=str(compare.health.status), message=compare.health.message)
        old_health = status.health
        if old_health is not None and old_health.status == health.status:
            health = replace(health, last_transition_time=old_health.last_transition_time)
        else:
            health = replace(health, last_transition_time=stamp)
        compared_to: dict[str, Any] = {"destination": app.spec.destination.to_dict()}
        if multi:
            compared_to["sources"] = [plain(s) for s in app.spec.raw_sources()]
        elif app.spec.source is not None:
            compared_to["source"] = plain(app.spec.source)
        return replace(
            status,
            sync=SyncStatus(
                status=str(compare.sync_status),
                revision="" if multi else revision,
                revisions=tuple(desired.revisions) if multi else (),
                compared_to=compared_to,
            ),
            health=health,
            resources=resources,
            reconciled_at=stamp,
            observed_at=stamp,
            controller_namespace=self.settings.namespace,
            argosy=argosy,
        )

    def _compared_result(
        self, app: Application, desired: DesiredState, compare: CompareResult
    ) -> ComparedResult:
        out = compare.out_of_sync
        managed = [r for r in compare.resources if not r.requires_pruning]
        return ComparedResult(
            sync_status=str(compare.sync_status),
            revisions=tuple(desired.revisions),
            sources=app.spec.raw_sources(),
            prune_only=bool(out) and all(r.requires_pruning for r in out),
            prune_deletes_all=not managed and any(r.requires_pruning for r in compare.resources),
            out_of_sync=tuple(_resource_op(r.key) for r in out),
        )

    # --- operations ------------------------------------------------------------------------------

    async def _operate(
        self,
        app: Application,
        *,
        status: ApplicationStatus,
        policy: EffectivePolicy,
        op: Operation,
        desired: DesiredState,
        compare: CompareResult,
        resume: str | None,
        retry_count: int,
        terminate: bool = False,
        cluster_target: _Target | None = None,
    ) -> tuple[ApplicationStatus, float | None]:
        """Run (or resume) ``op`` to the end. Returns the new status and, when a retry is scheduled,
        the seconds until it. ``terminate``: the operation was asked to stop (phase Terminating)
        while no executor of this process ran it; it is ended from ``resume`` without running."""
        name = app.name
        sync = op.sync or SyncOperation()
        now = self._clock()
        previous = status.operation_state
        started = (
            previous.started_at
            if previous is not None
            and previous.phase in ("Running", "Terminating")
            and previous.operation == op
            and previous.started_at
            else format_time(now)
        )
        if terminate and resume is None:
            return self._finish(
                app,
                status=status,
                op=op,
                started=started,
                phase="Failed",
                message=OPERATION_TERMINATED,
                result=None,
                retry_count=retry_count,
                target=desired,
                terminated=True,
            )
        wanted = tuple(sync.revisions) if sync.revisions else ((sync.revision,) if sync.revision else ())
        try:
            if wanted and tuple(wanted) != tuple(desired.revisions[: len(wanted)]):
                target = await self.repo.desired_state(self._request(app, wanted))
            else:
                target = desired
        except Exception as exc:
            return self._finish(
                app,
                status=status,
                op=op,
                started=started,
                phase="Error",
                message=f"failed to load the target state: {exc}",
                result=None,
                retry_count=retry_count,
                target=desired,
            )
        options = parse_sync_options([*policy.policy.sync_options, *sync.sync_options])
        strategy = sync.sync_strategy
        dest_ns = app.spec.destination.namespace
        cluster_target = cluster_target or _Target(self.kube, self.cache, None)
        live = list(cluster_target.cache.snapshot(name).values())
        in_sync = frozenset(r.key for r in compare.resources if str(r.status) == "Synced")
        try:
            plan = build_plan(
                target.manifests,
                live,
                PlanOptions(
                    sync_options=options,
                    prune=sync.prune,
                    resources=frozenset(_key_of(r) for r in sync.resources) if sync.resources else None,
                    skip_hooks=strategy is not None and strategy.kind == "apply",
                    in_sync=in_sync,
                    default_namespace=dest_ns,
                ),
            )
        except Exception as exc:
            return self._finish(
                app,
                status=status,
                op=op,
                started=started,
                phase="Error",
                message=f"cannot plan the sync: {exc}",
                result=None,
                retry_count=retry_count,
                target=target,
                git_revisions=desired.revisions,
            )
        settings = SyncSettings(
            app_name=name,
            field_manager=self.settings.field_manager,
            force=strategy.force if strategy is not None else False,
            app_sync_options=options,
            wave_delay=self.settings.wave_delay,
            poll_interval=self.settings.poll_interval,
            create_namespace=dest_ns if options.create_namespace and dest_ns else "",
            health_overrides=self.config.health_overrides,
        )
        # The in-cluster destination's writes go over the sync client (HTTP/2) when there is one.
        # The compare's server-side dry runs of the very same objects are not repeated.
        writer: Kube = cluster_target.kube
        if cluster_target.spec is None and self._sync_kube is not None:
            writer = self._sync_kube
        prior = compare.prior_dry_runs()
        try:
            executor = SyncExecutor(writer, plan, settings, state=resume, prior_dry_runs=prior)
        except Exception:
            executor = SyncExecutor(writer, plan, settings, prior_dry_runs=prior)
        if terminate:
            return await self._terminated(
                app,
                executor,
                status=status,
                op=op,
                started=started,
                retry_count=retry_count,
                target=target,
                git_revisions=desired.revisions,
            )
        running = OperationState(
            operation=op,
            phase="Running",
            message="one or more tasks are running",
            started_at=started,
            retry_count=retry_count,
            sync_result=SyncResult(
                revision=""
                if app.spec.has_multiple_sources
                else (target.revisions[0] if target.revisions else ""),
                revisions=tuple(target.revisions) if app.spec.has_multiple_sources else (),
                source=app.spec.source,
            ),
        )
        self._executors[name] = executor
        try:
            status = self._with_progress(replace(status, operation_state=running), executor.save_state())
            status = await self._persist(name, status)
            waves = int(json.loads(executor.save_state()).get("wavesStarted", 0))
            while True:
                result = await executor.run(max_waves=waves + 1)
                if result.completed or executor.termination_requested:
                    break
                waves += 1
                status = self._with_progress(
                    replace(
                        status, operation_state=replace(running, message=result.message or running.message)
                    ),
                    executor.save_state(),
                )
                status = await self._persist(name, status)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("sync of %s failed: %s", name, exc)
            return self._finish(
                app,
                status=status,
                op=op,
                started=started,
                phase="Error",
                message=str(exc),
                result=None,
                retry_count=retry_count,
                target=target,
                git_revisions=desired.revisions,
            )
        finally:
            self._executors.pop(name, None)
        if not result.completed:  # stopped by a termination request
            return await self._terminated(
                app,
                executor,
                status=status,
                op=op,
                started=started,
                retry_count=retry_count,
                target=target,
                git_revisions=desired.revisions,
            )
        for warning in result.warnings:
            log.warning("%s: %s", name, warning)
        phase = "Succeeded" if result.phase is OperationPhase.SUCCEEDED else "Failed"
        message = result.message or (
            "successfully synced (all tasks run)" if phase == "Succeeded" else "sync failed"
        )
        return self._finish(
            app,
            status=status,
            op=op,
            started=started,
            phase=phase,
            message=message,
            result=result,
            retry_count=retry_count,
            target=target,
            git_revisions=desired.revisions,
        )

    async def _terminated(
        self,
        app: Application,
        executor: SyncExecutor,
        *,
        status: ApplicationStatus,
        op: Operation,
        started: str,
        retry_count: int,
        target: DesiredState,
        git_revisions: Sequence[str],
    ) -> tuple[ApplicationStatus, float | None]:
        """End a terminated operation: running hooks deleted, phase Failed "Operation terminated"
        (Error "Operation termination had errors" when a hook could not be deleted)."""
        ok, result = await executor.terminate()
        log.info("%s: operation terminated", app.name)
        return self._finish(
            app,
            status=status,
            op=op,
            started=started,
            phase="Failed" if ok else "Error",
            message=result.message,
            result=result,
            retry_count=retry_count,
            target=target,
            git_revisions=git_revisions,
            terminated=True,
        )

    def _with_progress(
        self, status: ApplicationStatus, state: str | None, next_at: str = ""
    ) -> ApplicationStatus:
        argosy = status.argosy or ArgosyStatus()
        extra = dict(argosy.extra)
        if state is None and not next_at:
            extra.pop("operationProgress", None)
        else:
            progress: dict[str, Any] = {}
            if state is not None:
                progress["state"] = state
            if next_at:
                progress["nextAttemptAt"] = next_at
            extra["operationProgress"] = progress
        return replace(status, argosy=replace(argosy, extra=extra))

    def _finish(
        self,
        app: Application,
        *,
        status: ApplicationStatus,
        op: Operation,
        started: str,
        phase: str,
        message: str,
        result: EngineResult | None,
        retry_count: int,
        target: DesiredState,
        git_revisions: Sequence[str] = (),
        terminated: bool = False,
    ) -> tuple[ApplicationStatus, float | None]:
        now = self._clock()
        stamp = format_time(now)
        multi = app.spec.has_multiple_sources
        revision = "" if multi else (target.revisions[0] if target.revisions else "")
        resources: tuple[ResourceResult, ...] = ()
        if result is not None:
            resources = tuple(
                ResourceResult(
                    group=r.key.group,
                    kind=r.key.kind,
                    namespace=r.key.namespace,
                    name=r.key.name,
                    status=r.code,
                    message=r.message,
                    hook_type=str(r.phase) if r.hook_phase else "",
                    hook_phase=r.hook_phase,
                    sync_phase=str(r.phase),
                )
                for r in result.resources
            )
        state = OperationState(
            operation=op,
            phase=phase,
            message=message,
            started_at=started,
            finished_at=stamp,
            retry_count=retry_count,
            sync_result=SyncResult(
                resources=resources,
                revision=revision,
                revisions=tuple(target.revisions) if multi else (),
                source=None if multi else app.spec.source,
                sources=app.spec.sources if multi else None,
            ),
        )
        if phase != "Succeeded" and not terminated:
            # A terminated operation is not retried (Argo CD).
            decision = retry_decision(state, now)
            if decision.retry and decision.at is not None:
                waiting = replace(
                    state,
                    phase="Running",
                    message=f"Retrying attempt #{retry_count + 1}: {message}",
                    retry_count=retry_count + 1,
                    finished_at="",
                )
                status = self._with_progress(
                    replace(status, operation_state=waiting), None, next_at=format_time(decision.at)
                )
                self._record(app, op, state, target, rollback=False)
                return status, max(0.0, (decision.at - now).total_seconds())
        status = self._with_progress(replace(status, operation_state=state), None)
        rollback_id = _is_rollback(app, op)
        if phase == "Succeeded" and not (op.sync and op.sync.dry_run):
            history = list(status.history)
            next_id = max((h.id for h in history), default=0) + 1  # 1-based: id 0 would not serialise
            history.append(
                RevisionHistory(
                    id=next_id,
                    revision=revision,
                    revisions=tuple(target.revisions) if multi else (),
                    deployed_at=stamp,
                    deploy_started_at=started,
                    source=None if multi else app.spec.source,
                    sources=app.spec.sources if multi else None,
                    initiated_by=op.initiated_by,
                )
            )
            limit = app.spec.history_limit
            status = replace(status, history=tuple(history[-limit:]) if limit > 0 else ())
            if rollback_id:
                argosy = status.argosy or ArgosyStatus()
                status = replace(
                    status,
                    argosy=replace(
                        argosy,
                        # Held while Git's target is still what it was at the rollback.
                        rollback_hold=RollbackHold(
                            revision="" if multi else (git_revisions[0] if git_revisions else ""),
                            revisions=tuple(git_revisions) if multi else (),
                            held_at=stamp,
                            reason=f"rollback to history id {rollback_id}",
                            history_id=rollback_id,
                        ),
                    ),
                )
        self._record(app, op, state, target, rollback=bool(rollback_id))
        return status, None

    def _record(
        self, app: Application, op: Operation, state: OperationState, target: DesiredState, *, rollback: bool
    ) -> None:
        """Write the finished operation (and the deployment) to the history store, in the background."""
        started = parse_time(state.started_at) or self._clock()
        finished = parse_time(state.finished_at) or self._clock()
        record = OperationRecord(
            app_namespace=app.namespace,
            app_name=app.name,
            project=app.spec.project_name,
            environment=_environment(app),
            kind=_op_kind(app, op),
            revisions=tuple(target.revisions),
            initiated_by=op.initiated_by.username or ("automated" if op.initiated_by.automated else ""),
            automated=op.initiated_by.automated,
            phase=state.phase,
            message=state.message,
            started_at=started,
            finished_at=finished,
            resources=len(state.sync_result.resources) if state.sync_result else 0,
            operation_id=f"{app.name}@{state.started_at}#{state.retry_count}",
        )
        deployment = None
        if state.sync_result is not None and not (op.sync and op.sync.dry_run):
            deployment = DeploymentRecord(
                app_namespace=app.namespace,
                app_name=app.name,
                environment=_environment(app),
                revision=target.revisions[0] if target.revisions else "",
                deployed_at=finished,
                succeeded=state.phase == "Succeeded",
                rollback=rollback,
            )

        try:
            self.metrics.record_sync(
                namespace=app.namespace,
                name=app.name,
                project=app.spec.project_name,
                dest_server=app.spec.destination.server or app.spec.destination.name,
                phase=state.phase,
                duration_seconds=max(0.0, (finished - started).total_seconds()),
                dry_run=bool(op.sync and op.sync.dry_run),
                rollback=rollback,
            )
        except Exception as exc:
            log.warning("metrics: %s", exc)

        request = self._request(app)

        async def write() -> None:
            try:
                await self.history.record_operation(record)
                if deployment is not None:
                    # DORA's lead time starts at the commit: its committer date, from the Git cache.
                    commit = await self.repo.commit_metadata(request, target.revisions)
                    committed = commit.committed_at if commit is not None else None
                    await self.history.record_deployment(replace(deployment, commit_time=committed))
            except Exception as exc:
                log.warning("history store: %s", exc)

        self._spawn(write())

    # --- writing ---------------------------------------------------------------------------------

    async def _persist(self, name: str, status: ApplicationStatus) -> ApplicationStatus:
        """Write the status now (an operation in progress); keep going when the write fails."""
        try:
            await self._write(name, _Outcome(status), remove_refresh=False)
        except Exception as exc:
            log.warning("cannot save the progress of %s: %s", name, exc)
        return status

    async def _write(self, name: str, outcome: _Outcome, *, remove_refresh: bool) -> None:
        """PUT the whole Application with the new status, checked by resourceVersion; on a conflict,
        read it again and re-apply (the status is ours alone; ``.operation`` is cleared only when it
        is still the one we finished)."""
        body = outcome.status.to_dict()
        for attempt in range(8):
            raw = await self._get_app(name)
            if raw is None:
                return
            new = copy.deepcopy(raw)
            if _terminating(raw) and (body.get("operationState") or {}).get("phase") == "Running":
                # Asked to stop since we last read it: keep the request and act on it.
                body = copy.deepcopy(body)
                body["operationState"]["phase"] = "Terminating"
                executor = self._executors.get(name)
                if executor is not None:
                    executor.request_termination()
            new["status"] = body
            if outcome.clear_operation is not None and "operation" in new:
                try:
                    current = Operation.from_dict(new["operation"])
                except ModelError:
                    current = None
                if current == outcome.clear_operation:
                    del new["operation"]
            annotations = (new.get("metadata") or {}).get("annotations") or {}
            if remove_refresh and ANNOTATION_REFRESH in annotations:
                del annotations[ANNOTATION_REFRESH]
            if new == raw:
                return
            try:
                written = await self.kube.replace(new)
            except Exception as exc:
                if is_conflict(exc) and attempt < 7:
                    await asyncio.sleep(0.05 * (attempt + 1))
                    continue
                raise
            self._apps[name] = written
            self._fingerprints[name] = _watch_fingerprint(written)
            if self._on_app_written is not None:
                self._spawn(self._notify_written(written))
            return

    async def _notify_written(self, app: Mapping[str, Any]) -> None:
        assert self._on_app_written is not None
        try:
            await self._on_app_written(app)
        except Exception:
            log.exception("on_app_written callback failed for %s", (app.get("metadata") or {}).get("name"))

    # --- deletion --------------------------------------------------------------------------------

    async def _finalize(self, app: Application, raw: dict[str, Any]) -> float | None:
        """Cascade deletion: prune every tracked resource (foreground), then drop the finalizer."""
        if not app.cascade_delete:
            return None
        cluster, unknown = self._cluster_spec(app)
        remaining = []
        if unknown:
            # Argo CD lets an app whose cluster is gone be deleted: nothing can be cleaned up there.
            log.warning("%s: %s; removing the finalizer without deleting resources", app.name, unknown)
            snapshot: Mapping[ResourceKey, dict[str, Any]] = {}
            target = _Target(self.kube, self.cache, None)
        else:
            try:
                target = await self._target(cluster)
            except Exception as exc:
                log.warning("%s: cannot reach its cluster to delete its resources: %s", app.name, exc)
                return 10.0
            snapshot = target.cache.snapshot(app.name)
        for key, obj in snapshot.items():
            annotations = (obj.get("metadata") or {}).get("annotations") or {}
            options = str(annotations.get(ANNOTATION_SYNC_OPTIONS) or "")
            if "Delete=false" in options.replace(" ", "") or (obj.get("metadata") or {}).get(
                "ownerReferences"
            ):
                continue
            remaining.append(key)
            if (obj.get("metadata") or {}).get("deletionTimestamp"):
                continue
            try:
                await target.kube.delete(
                    str(obj.get("apiVersion") or ""),
                    key.kind,
                    key.name,
                    key.namespace or None,
                    propagation_policy="Foreground",
                )
            except Exception as exc:
                if not is_not_found(exc):
                    log.warning("deleting %s of %s: %s", key.format(), app.name, exc)
        if remaining:
            return 1.0
        finalizers = [
            f
            for f in (raw.get("metadata") or {}).get("finalizers") or []
            if not str(f).startswith("resources-finalizer.argocd.argoproj.io")
        ]
        patch = [
            {"op": "test", "path": "/metadata/resourceVersion", "value": raw["metadata"]["resourceVersion"]},
            {"op": "replace", "path": "/metadata/finalizers", "value": finalizers},
        ]
        try:
            await self.kube.patch(
                API_VERSION, "Application", app.name, patch, app.namespace, patch_type="json"
            )
        except Exception as exc:
            if is_not_found(exc):
                return None
            log.info("removing the finalizer of %s: %s", app.name, exc)
            return 0.5
        return None


def app_with_status(app: Application, status: ApplicationStatus) -> Application:
    return replace(app, status=status)
