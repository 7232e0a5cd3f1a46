"""``ClusterCache``: the live state of one cluster, kept by list + watch on every resource type.

Semantics follow Argo CD's cluster cache (argocd-semantics.md §1.3):

* every listable and watchable type, in its preferred version, is listed (pages of 500, at most
  ``list_concurrency`` lists at once) and then watched; a 410 (expired resourceVersion) or any
  other error leads to a relist (errors after an exponential backoff); each watch is restarted
  after ``watch_timeout`` seconds and a full relist happens every ``resync_interval`` seconds;
* Argo CD's default ``resource.exclusions`` (plus the always-excluded Events and metrics) and the
  ``resource.exclusions``/``resource.inclusions`` of argocd-cm decide which types are watched;
* full objects are kept only for tracked resources (tracking annotation or, in label mode, the
  instance label) and CustomResourceDefinitions; anything else is a light reference (key, owner
  references, resourceVersion);
* the owner-reference tree is kept (parent key -> child keys; a namespaced child of a
  cluster-scoped owner points at the owner's namespace-less key);
* changes are batched (every ``batch_interval`` seconds) per owning application, found through
  tracking or by walking owner references up to a tracked root, and handed to subscribers;
* a CRD event refreshes discovery, so new types are watched and removed ones dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import logging
import random
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal

import yaml

from argosy.adapters.kube.client import KubeClient, WatchEvent
from argosy.adapters.kube.discovery import APIResource, Discovery
from argosy.adapters.kube.errors import Gone, KubeError
from argosy.model.annotations import ANNOTATION_TRACKING_ID, LABEL_APP_INSTANCE
from argosy.model.resources import GroupKind, ResourceKey, group_of_api_version
from argosy.ports.metrics import ClusterEventObserver, ClusterStats

__all__ = [
    "ALWAYS_EXCLUDED",
    "ANNOTATION_INSTALLATION_ID",
    "DEFAULT_EXCLUSIONS",
    "CacheOptions",
    "CachedResource",
    "ChangeBatch",
    "ClusterCache",
    "OwnerRef",
    "ResourceChange",
    "ResourceFilter",
    "ResourceSettings",
    "Subscriber",
    "TrackingMethod",
    "parse_resource_filters",
    "tracking_app",
]

log = logging.getLogger(__name__)

ANNOTATION_INSTALLATION_ID = "argocd.argoproj.io/installation-id"
_CRD = GroupKind("apiextensions.k8s.io", "CustomResourceDefinition")


# --- resource filters (argocd-cm resource.exclusions / resource.inclusions) ----------------------


def _globs_match(patterns: tuple[str, ...], value: str) -> bool:
    if not patterns or "*" in patterns:
        return True
    return any(fnmatch.fnmatchcase(value, pattern) for pattern in patterns)


@dataclass(frozen=True, slots=True)
class ResourceFilter:
    """One entry of ``resource.exclusions``/``resource.inclusions``; an empty list matches anything."""

    api_groups: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    clusters: tuple[str, ...] = ()

    def matches(self, group: str, kind: str, cluster: str) -> bool:
        return (
            _globs_match(self.api_groups, group)
            and _globs_match(self.kinds, kind)
            and _globs_match(self.clusters, cluster)
        )


def _strings(entry: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = entry.get(key)
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{where}: {key} must be a list of strings")
    return tuple(value)


def parse_resource_filters(
    text: str | None, *, name: str = "resource.exclusions"
) -> tuple[ResourceFilter, ...]:
    """Parse the YAML list of an argocd-cm ``resource.exclusions``/``resource.inclusions`` value."""
    if not text or not text.strip():
        return ()
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValueError(f"{name} is not valid YAML: {exc}") from None
    if data is None:
        return ()
    if not isinstance(data, list):
        raise ValueError(f"{name} must be a YAML list of {{apiGroups, kinds, clusters}} entries")
    filters: list[ResourceFilter] = []
    for index, entry in enumerate(data):
        where = f"{name}[{index}]"
        if not isinstance(entry, Mapping):
            raise ValueError(f"{where} must be a mapping")
        unknown = set(entry) - {"apiGroups", "kinds", "clusters"}
        if unknown:
            raise ValueError(f"{where}: unknown field(s) {', '.join(sorted(map(str, unknown)))}")
        filters.append(
            ResourceFilter(
                api_groups=_strings(entry, "apiGroups", where),
                kinds=_strings(entry, "kinds", where),
                clusters=_strings(entry, "clusters", where),
            )
        )
    return tuple(filters)


ALWAYS_EXCLUDED: tuple[ResourceFilter, ...] = (
    ResourceFilter(api_groups=("events.k8s.io", "metrics.k8s.io")),
    ResourceFilter(api_groups=("",), kinds=("Event",)),
)
"""Excluded whatever argocd-cm says (Argo CD's core exclusions)."""

DEFAULT_EXCLUSIONS: tuple[ResourceFilter, ...] = (
    ResourceFilter(api_groups=("", "discovery.k8s.io"), kinds=("Endpoints", "EndpointSlice")),
    ResourceFilter(api_groups=("coordination.k8s.io",), kinds=("Lease",)),
    ResourceFilter(
        api_groups=("authentication.k8s.io", "authorization.k8s.io"),
        kinds=(
            "SelfSubjectReview",
            "TokenReview",
            "LocalSubjectAccessReview",
            "SelfSubjectAccessReview",
            "SelfSubjectRulesReview",
            "SubjectAccessReview",
        ),
    ),
    ResourceFilter(api_groups=("certificates.k8s.io",), kinds=("CertificateSigningRequest",)),
    ResourceFilter(api_groups=("cert-manager.io",), kinds=("CertificateRequest",)),
    ResourceFilter(
        api_groups=("cilium.io",), kinds=("CiliumIdentity", "CiliumEndpoint", "CiliumEndpointSlice")
    ),
    ResourceFilter(
        api_groups=("kyverno.io", "reports.kyverno.io", "wgpolicyk8s.io"),
        kinds=(
            "PolicyReport",
            "ClusterPolicyReport",
            "EphemeralReport",
            "ClusterEphemeralReport",
            "AdmissionReport",
            "ClusterAdmissionReport",
            "BackgroundScanReport",
            "ClusterBackgroundScanReport",
            "UpdateRequest",
        ),
    ),
)
"""Argo CD 3.x's default ``resource.exclusions`` (used when argocd-cm sets none)."""


class TrackingMethod(StrEnum):
    ANNOTATION = "annotation"
    LABEL = "label"
    ANNOTATION_LABEL = "annotation+label"


@dataclass(frozen=True, slots=True)
class ResourceSettings:
    """What argocd-cm says about watching and tracking resources."""

    exclusions: tuple[ResourceFilter, ...] = DEFAULT_EXCLUSIONS
    inclusions: tuple[ResourceFilter, ...] = ()
    tracking_method: TrackingMethod = TrackingMethod.ANNOTATION
    installation_id: str = ""

    @classmethod
    def from_configmap(cls, data: Mapping[str, str]) -> ResourceSettings:
        """Read ``resource.exclusions``, ``resource.inclusions``, ``application.resourceTrackingMethod``
        and ``installationID`` from argocd-cm's ``data``. A missing ``resource.exclusions`` keeps the
        defaults; a present one replaces them (as in Argo CD)."""
        exclusions = (
            parse_resource_filters(data["resource.exclusions"], name="resource.exclusions")
            if "resource.exclusions" in data
            else DEFAULT_EXCLUSIONS
        )
        inclusions = parse_resource_filters(data.get("resource.inclusions"), name="resource.inclusions")
        raw_method = (data.get("application.resourceTrackingMethod") or "annotation").strip()
        try:
            method = TrackingMethod(raw_method)
        except ValueError:
            raise ValueError(
                f"application.resourceTrackingMethod {raw_method!r} is not one of "
                + ", ".join(m.value for m in TrackingMethod)
            ) from None
        return cls(
            exclusions=exclusions,
            inclusions=inclusions,
            tracking_method=method,
            installation_id=(data.get("installationID") or "").strip(),
        )

    def is_excluded(self, group: str, kind: str, cluster: str) -> bool:
        """Excluded if any exclusion matches, or if inclusions exist and none matches."""
        if any(f.matches(group, kind, cluster) for f in (*ALWAYS_EXCLUDED, *self.exclusions)):
            return True
        return bool(self.inclusions) and not any(f.matches(group, kind, cluster) for f in self.inclusions)


def tracking_app(
    obj: Mapping[str, Any],
    *,
    method: TrackingMethod = TrackingMethod.ANNOTATION,
    installation_id: str = "",
) -> str | None:
    """The application that tracks ``obj``, or None.

    Annotation modes read ``argocd.argoproj.io/tracking-id: <app>:<group>/<kind>:<ns>/<name>`` and
    accept it only when it names the object itself: controllers copy annotations to the objects
    they create (a Deployment's to its ReplicaSets), and those are found through owner references.
    """
    metadata = obj.get("metadata") or {}
    annotations = metadata.get("annotations") or {}
    if installation_id and annotations.get(ANNOTATION_INSTALLATION_ID, "") != installation_id:
        return None
    if method == TrackingMethod.LABEL:
        value = (metadata.get("labels") or {}).get(LABEL_APP_INSTANCE)
        return str(value) if value else None
    raw = annotations.get(ANNOTATION_TRACKING_ID)
    if not raw:
        return None
    app, sep, rest = str(raw).partition(":")
    group_kind, sep2, ns_name = rest.partition(":")
    if not app or not sep or not sep2:
        return None
    group, _, kind = group_kind.partition("/")
    namespace, _, name = ns_name.partition("/")
    if not name:
        name, namespace = namespace, ""
    own_group = group_of_api_version(str(obj.get("apiVersion") or ""))
    own_ns = str(metadata.get("namespace") or "")
    if (group, kind, name) != (own_group, obj.get("kind"), metadata.get("name")):
        return None
    if own_ns and namespace and namespace != own_ns:
        return None
    return app


# --- cache entries and events --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OwnerRef:
    """An owner reference resolved to the owner's key (namespace-less for cluster-scoped owners)."""

    key: ResourceKey
    uid: str
    controller: bool = False


@dataclass(frozen=True, slots=True)
class CachedResource:
    """One live object: always its identity, owners and version; the full object only if kept."""

    key: ResourceKey
    api_version: str
    uid: str
    resource_version: str
    owners: tuple[OwnerRef, ...] = ()
    app: str | None = None
    object: dict[str, Any] | None = field(default=None, repr=False)


ChangeType = Literal["ADDED", "MODIFIED", "DELETED"]


@dataclass(frozen=True, slots=True)
class ResourceChange:
    key: ResourceKey
    type: ChangeType


@dataclass(frozen=True, slots=True)
class ChangeBatch:
    """Changes since the previous batch, per owning application."""

    apps: Mapping[str, tuple[ResourceChange, ...]]


Subscriber = Callable[[ChangeBatch], Awaitable[None]] | asyncio.Queue[ChangeBatch]


@dataclass(frozen=True, slots=True)
class CacheOptions:
    """Knobs, with Argo CD's defaults."""

    page_size: int = 500
    list_concurrency: int = 50
    watch_timeout: float = 600.0
    resync_interval: float = 12 * 3600.0
    batch_interval: float = 0.1
    backoff_initial: float = 1.0
    backoff_max: float = 30.0
    discovery_interval: float = 300.0


def _owner_refs(
    obj: Mapping[str, Any], namespace: str, namespaced: Callable[[GroupKind], bool]
) -> tuple[OwnerRef, ...]:
    refs: list[OwnerRef] = []
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
        gk = GroupKind(group_of_api_version(str(ref.get("apiVersion") or "")), str(ref.get("kind") or ""))
        owner_ns = namespace if namespace and namespaced(gk) else ""
        refs.append(
            OwnerRef(
                key=ResourceKey(gk.group, gk.kind, owner_ns, str(ref.get("name") or "")),
                uid=str(ref.get("uid") or ""),
                controller=bool(ref.get("controller")),
            )
        )
    return tuple(refs)


# --- the cache -----------------------------------------------------------------------------------


class ClusterCache:
    """List + watch every resource type of one cluster. ``await start()``, then ``await stop()``.

    ``observer`` is told about every watch event applied (``argocd_cluster_events_total``);
    :meth:`stats` gives the ``argocd_cluster_*`` figures, labelled with ``metrics_server`` (default
    ``cluster``) and ``cluster_name``.
    """

    def __init__(
        self,
        client: KubeClient,
        *,
        settings: ResourceSettings | None = None,
        options: CacheOptions | None = None,
        cluster: str | None = None,
        observer: ClusterEventObserver | None = None,
        metrics_server: str | None = None,
        cluster_name: str = "",
    ) -> None:
        self.client = client
        self.settings = settings or ResourceSettings()
        self.options = options or CacheOptions()
        self.cluster = cluster if cluster is not None else client.config.server
        self.observer = observer
        self.metrics_server = metrics_server or self.cluster
        self.cluster_name = cluster_name
        self.k8s_version = ""
        self._listed_at: dict[GroupKind, float] = {}
        self._discovery_failed = False
        self._resources: dict[ResourceKey, CachedResource] = {}
        self._by_type: dict[GroupKind, set[ResourceKey]] = {}
        self._children: dict[ResourceKey, set[ResourceKey]] = {}
        self._by_app: dict[str, set[ResourceKey]] = {}
        self._namespaced: dict[GroupKind, bool] = {}
        self._watched: dict[GroupKind, APIResource] = {}
        self._tasks: dict[GroupKind, asyncio.Task[None]] = {}
        self._synced: dict[GroupKind, asyncio.Event] = {}
        self._background: list[asyncio.Task[None]] = []
        self._subscribers: list[Subscriber] = []
        self._pending: dict[str, dict[ResourceKey, ChangeType]] = {}
        self._list_semaphore = asyncio.Semaphore(self.options.list_concurrency)
        self._discovery_wanted = asyncio.Event()
        self._stopped = False
        self.relists: dict[GroupKind, int] = {}
        self.last_errors: dict[GroupKind, str] = {}

    # --- lifecycle -------------------------------------------------------------------------------

    async def start(self, *, wait: bool = True, timeout: float = 60.0) -> None:
        """Discover the types, start their list+watch loops and (``wait``) wait for the first lists."""
        await self._read_version()
        await self._sync_types(await self.client.discover())
        self._background.append(asyncio.create_task(self._flush_loop(), name="livecache-flush"))
        self._background.append(asyncio.create_task(self._discovery_loop(), name="livecache-discovery"))
        if wait:
            await self.wait_synced(timeout=timeout)

    async def wait_synced(self, timeout: float = 60.0) -> None:
        """Wait until every watched type has been listed once."""
        async with asyncio.timeout(timeout):
            for event in list(self._synced.values()):
                await event.wait()

    async def stop(self) -> None:
        """Cancel every loop and wait for them; flushes no further events."""
        self._stopped = True
        tasks = [*self._tasks.values(), *self._background]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()
        self._background.clear()

    async def __aenter__(self) -> ClusterCache:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    def request_discovery(self) -> None:
        """Re-run discovery soon (new or removed CRDs, aggregated APIs coming back)."""
        self._discovery_wanted.set()

    # --- metrics ---------------------------------------------------------------------------------

    async def _read_version(self) -> None:
        """``major.minor`` of the apiserver, as Argo CD's ``k8s_version`` label (kept on failure)."""
        try:
            version = await self.client.server_version()
        except KubeError as exc:
            log.debug("live cache: /version of %s: %s", self.cluster, exc)
            return
        major, minor = str(version.get("major") or ""), str(version.get("minor") or "")
        if major and minor:
            self.k8s_version = f"{major}.{minor}"

    def stats(self) -> ClusterStats:
        """Objects cached, types watched, seconds since the oldest type's last list (Argo CD's cache
        age: time since the last full sync) and whether the cluster answers (discovery works and not
        every watched type is failing)."""
        now = time.monotonic()
        listed = [self._listed_at[gk] for gk in self._watched if gk in self._listed_at]
        failing = sum(1 for gk in self._watched if gk in self.last_errors)
        connected = not self._discovery_failed and (not self._watched or failing < len(self._watched))
        return ClusterStats(
            server=self.metrics_server,
            name=self.cluster_name,
            k8s_version=self.k8s_version,
            api_resource_objects=len(self._resources),
            api_resources=len(self._watched),
            connected=connected,
            cache_age_seconds=max(0.0, now - min(listed)) if listed else 0.0,
        )

    def _observe_event(self, res: APIResource) -> None:
        if self.observer is None:
            return
        with contextlib.suppress(Exception):  # metrics never break the cache
            self.observer.record_cluster_event(self.metrics_server, res.group, res.kind)

    # --- queries ---------------------------------------------------------------------------------

    @property
    def watched_types(self) -> tuple[APIResource, ...]:
        return tuple(self._watched.values())

    def get(self, key: ResourceKey) -> CachedResource | None:
        return self._resources.get(key)

    def __contains__(self, key: object) -> bool:
        return key in self._resources

    def __len__(self) -> int:
        return len(self._resources)

    def keys(self, group_kind: GroupKind | None = None) -> tuple[ResourceKey, ...]:
        if group_kind is None:
            return tuple(self._resources)
        return tuple(self._by_type.get(group_kind, ()))

    def children(self, key: ResourceKey) -> tuple[ResourceKey, ...]:
        """Direct dependents of ``key`` (objects whose owner references point at it)."""
        return tuple(sorted(k for k in self._children.get(key, ()) if k in self._resources))

    def descendants(self, key: ResourceKey) -> tuple[ResourceKey, ...]:
        found: list[ResourceKey] = []
        seen = {key}
        stack = [key]
        while stack:
            for child in self.children(stack.pop()):
                if child not in seen:
                    seen.add(child)
                    found.append(child)
                    stack.append(child)
        return tuple(found)

    def app_of(self, key: ResourceKey) -> str | None:
        """The owning application: the object's tracking, else the first tracked owner up the tree."""
        seen: set[ResourceKey] = set()
        stack = [key]
        while stack:
            current = stack.pop()
            if current in seen:
                continue
            seen.add(current)
            entry = self._resources.get(current)
            if entry is None:
                continue
            if entry.app:
                return entry.app
            stack.extend(reversed([o.key for o in entry.owners]))
        return None

    def snapshot(self, app_name: str) -> dict[ResourceKey, dict[str, Any]]:
        """The live objects tracked by ``app_name`` (shared dicts: do not mutate them)."""
        result: dict[ResourceKey, dict[str, Any]] = {}
        for key in sorted(self._by_app.get(app_name, ())):
            entry = self._resources.get(key)
            if entry is not None and entry.object is not None:
                result[key] = entry.object
        return result

    def apps(self) -> tuple[str, ...]:
        return tuple(sorted(a for a, keys in self._by_app.items() if keys))

    # --- subscribers -----------------------------------------------------------------------------

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        """Deliver every :class:`ChangeBatch` to ``subscriber``; returns the unsubscribe function."""
        self._subscribers.append(subscriber)

        def unsubscribe() -> None:
            with contextlib.suppress(ValueError):
                self._subscribers.remove(subscriber)

        return unsubscribe

    async def _flush_loop(self) -> None:
        while True:
            await asyncio.sleep(self.options.batch_interval)
            await self.flush()

    async def flush(self) -> None:
        """Deliver pending changes now (the flush loop calls this every ``batch_interval``)."""
        if not self._pending:
            return
        pending, self._pending = self._pending, {}
        batch = ChangeBatch(
            apps={
                app: tuple(ResourceChange(k, t) for k, t in sorted(changes.items()))
                for app, changes in pending.items()
            }
        )
        for subscriber in list(self._subscribers):
            if isinstance(subscriber, asyncio.Queue):
                subscriber.put_nowait(batch)
                continue
            try:
                await subscriber(batch)
            except Exception:
                log.exception("live cache subscriber %r failed", subscriber)

    def _note(self, app: str | None, key: ResourceKey, change: ChangeType) -> None:
        if not app:
            return
        changes = self._pending.setdefault(app, {})
        previous = changes.get(key)
        if previous == "ADDED" and change == "MODIFIED":
            return
        changes[key] = change

    # --- index maintenance -----------------------------------------------------------------------

    def _is_namespaced(self, group_kind: GroupKind) -> bool:
        return self._namespaced.get(group_kind, True)

    def _entry(self, res: APIResource, obj: dict[str, Any]) -> CachedResource:
        metadata = obj.get("metadata") or {}
        namespace = str(metadata.get("namespace") or "")
        key = ResourceKey(res.group, res.kind, namespace, str(metadata.get("name") or ""))
        app = tracking_app(
            obj, method=self.settings.tracking_method, installation_id=self.settings.installation_id
        )
        keep = app is not None or res.group_kind == _CRD
        return CachedResource(
            key=key,
            api_version=res.api_version,
            uid=str(metadata.get("uid") or ""),
            resource_version=str(metadata.get("resourceVersion") or ""),
            owners=_owner_refs(obj, namespace, self._is_namespaced),
            app=app,
            object=obj if keep else None,
        )

    def _put(self, entry: CachedResource) -> None:
        """Insert or update ``entry`` and note the change for the apps involved (old and new)."""
        old = self._resources.get(entry.key)
        if old is not None and old.resource_version == entry.resource_version and old.uid == entry.uid:
            return
        old_app = self.app_of(entry.key) if old is not None else None
        if old is not None:
            self._unlink(old)
        self._resources[entry.key] = entry
        self._by_type.setdefault(entry.key.group_kind, set()).add(entry.key)
        for owner in entry.owners:
            self._children.setdefault(owner.key, set()).add(entry.key)
        if entry.app:
            self._by_app.setdefault(entry.app, set()).add(entry.key)
        new_app = self.app_of(entry.key)
        change: ChangeType = "ADDED" if old is None else "MODIFIED"
        self._note(new_app, entry.key, change)
        if old_app and old_app != new_app:
            self._note(old_app, entry.key, "DELETED")
        if new_app != old_app:
            # Watches of different types deliver in any order: dependents cached before this owner
            # were attributed to no app (or another one) until now, so report them under the new one.
            for dependent in self.descendants(entry.key):
                self._note(new_app, dependent, "ADDED")
                if old_app:
                    self._note(old_app, dependent, "DELETED")

    def _unlink(self, entry: CachedResource) -> None:
        for owner in entry.owners:
            children = self._children.get(owner.key)
            if children is not None:
                children.discard(entry.key)
                if not children:
                    del self._children[owner.key]
        if entry.app:
            keys = self._by_app.get(entry.app)
            if keys is not None:
                keys.discard(entry.key)
                if not keys:
                    del self._by_app[entry.app]

    def _remove(self, key: ResourceKey) -> None:
        entry = self._resources.get(key)
        if entry is None:
            return
        app = self.app_of(key)
        self._unlink(entry)
        del self._resources[key]
        type_keys = self._by_type.get(key.group_kind)
        if type_keys is not None:
            type_keys.discard(key)
        self._note(app, key, "DELETED")

    def _replace_type(self, res: APIResource, items: Iterable[dict[str, Any]]) -> None:
        """Make the cached objects of one type exactly ``items`` (after a list)."""
        entries = [self._entry(res, obj) for obj in items]
        fresh = {e.key for e in entries}
        for key in list(self._by_type.get(res.group_kind, ())):
            if key not in fresh:
                self._remove(key)
        for entry in entries:
            self._put(entry)
        if res.group_kind == _CRD:
            self.request_discovery()

    def _apply_event(self, res: APIResource, event: WatchEvent) -> None:
        entry = self._entry(res, event.object)
        if event.type == "DELETED":
            self._remove(entry.key)
        elif event.type in ("ADDED", "MODIFIED"):
            self._put(entry)
        if res.group_kind == _CRD:
            self.request_discovery()

    def _drop_type(self, group_kind: GroupKind) -> None:
        for key in list(self._by_type.get(group_kind, ())):
            self._remove(key)
        self._by_type.pop(group_kind, None)

    # --- types and loops -------------------------------------------------------------------------

    async def _sync_types(self, discovery: Discovery) -> None:
        """Start loops for newly served types, stop those for types no longer served."""
        wanted: dict[GroupKind, APIResource] = {}
        for res in discovery.preferred_resources():
            self._namespaced[res.group_kind] = res.namespaced
            if not (res.listable and res.watchable):
                continue
            if self.settings.is_excluded(res.group, res.kind, self.cluster):
                continue
            wanted[res.group_kind] = res
        for gk in list(self._watched):
            current = self._watched[gk]
            if gk not in wanted or wanted[gk].version != current.version:
                task = self._tasks.pop(gk, None)
                if task is not None:
                    task.cancel()
                    await asyncio.gather(task, return_exceptions=True)
                del self._watched[gk]
                self._synced.pop(gk, None)
                self._drop_type(gk)
        for gk, res in wanted.items():
            if gk in self._watched or self._stopped:
                continue
            self._watched[gk] = res
            self._synced[gk] = asyncio.Event()
            self._tasks[gk] = asyncio.create_task(
                self._run_type(res), name=f"livecache-{res.kind}.{res.group}"
            )

    async def _discovery_loop(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.options.discovery_interval):
                    await self._discovery_wanted.wait()
            self._discovery_wanted.clear()
            await asyncio.sleep(0.2)  # let a burst of CRD events settle into one discovery
            self._discovery_wanted.clear()
            try:
                discovery = await self.client.discover(refresh=True)
            except KubeError as exc:
                self._discovery_failed = True
                log.warning("live cache discovery of %s failed: %s", self.cluster, exc)
                await asyncio.sleep(self.options.backoff_initial)
                self._discovery_wanted.set()
                continue
            self._discovery_failed = False
            await self._read_version()
            await self._sync_types(discovery)

    async def _list(self, res: APIResource) -> str:
        async with self._list_semaphore:
            listed = await self.client.list(res.api_version, res.kind, limit=self.options.page_size)
        self._replace_type(res, listed.items)
        self._listed_at[res.group_kind] = time.monotonic()
        self.relists[res.group_kind] = self.relists.get(res.group_kind, 0) + 1
        self._synced[res.group_kind].set()
        return listed.resource_version

    async def _run_type(self, res: APIResource) -> None:
        gk = res.group_kind
        backoff = self.options.backoff_initial
        while True:
            try:
                resource_version = await self._list(res)
                listed_at = time.monotonic()
                backoff = self.options.backoff_initial
                self.last_errors.pop(gk, None)
                while time.monotonic() - listed_at < self.options.resync_interval:
                    timeout = self.options.watch_timeout
                    stream = self.client.watch(
                        res.api_version,
                        res.kind,
                        resource_version=resource_version,
                        timeout_seconds=max(1, int(timeout * random.uniform(1.0, 1.1))),  # noqa: S311
                    )
                    async with contextlib.aclosing(stream) as events:
                        async for event in events:
                            if event.type != "BOOKMARK":
                                self._apply_event(res, event)
                                self._observe_event(res)
                            resource_version = event.resource_version or resource_version
            except asyncio.CancelledError:
                raise
            except Gone:
                log.info("live cache: watch of %s expired (410), listing again", gk)
                continue
            except KubeError as exc:
                self.last_errors[gk] = str(exc)
                log.warning("live cache: %s failed: %s; retrying in %.1fs", gk, exc, backoff)
            except Exception as exc:
                self.last_errors[gk] = f"{type(exc).__name__}: {exc}"
                log.exception("live cache: unexpected failure on %s", gk)
            await asyncio.sleep(backoff * random.uniform(0.8, 1.2))  # noqa: S311
            backoff = min(backoff * 2, self.options.backoff_max)
