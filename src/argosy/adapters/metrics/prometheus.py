"""``PrometheusMetrics``: the series Argo CD's controller, repo server and notifications controller
export, plus the legacy ones the spec's alerts query and Argosy's DORA gauges."""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from urllib.parse import urlsplit, urlunsplit

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from argosy.ports.metrics import AppMetricsInfo, ClusterStats, current_app

__all__ = ["CONTENT_TYPE", "HEALTH_STATUSES", "PrometheusMetrics", "exposition", "repo_label"]

log = logging.getLogger(__name__)

CONTENT_TYPE = CONTENT_TYPE_LATEST
HEALTH_STATUSES = ("Healthy", "Progressing", "Degraded", "Suspended", "Missing", "Unknown")
RECONCILE_BUCKETS = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0)
GIT_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 10.0, 20.0)
APP_LABELS = ("namespace", "name", "project")
SYNC_PHASES = ("Succeeded", "Failed", "Error", "Rollback")


def _bool(value: bool) -> str:
    return "true" if value else "false"


def repo_label(url: str) -> str:
    """A repository URL fit for a label: no credentials.

    HTTP(S) URLs lose their whole ``user:password@`` (a token is often passed as the user name);
    other schemes (``ssh://git@host/...``, ``git://``) keep the user name and lose any password.
    scp-like ``git@host:org/repo`` has no place for a password and is kept as it is.
    """
    text = url.strip()
    if "://" not in text:
        return text
    try:
        parts = urlsplit(text)
    except ValueError:
        return "<unparseable repository URL>"
    if "@" not in parts.netloc:
        return text
    userinfo, _, hostport = parts.netloc.rpartition("@")
    user = userinfo.split(":", 1)[0]
    keep_user = parts.scheme.lower() not in ("http", "https") and user
    netloc = f"{user}@{hostport}" if keep_user else hostport
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


class PrometheusMetrics:
    """Implements ``argosy.ports.metrics.Metrics`` on a private ``CollectorRegistry``.

    Counters are exported without ``_created`` series (``registry`` is ours, the text format is 0.0.4).
    """

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry(auto_describe=True)
        self._lock = threading.Lock()
        self._app_info: dict[tuple[str, str], tuple[str, ...]] = {}
        self._app_health: dict[tuple[str, str], tuple[str, ...]] = {}
        r = self.registry
        self.app_info = Gauge(
            "argocd_app_info",
            "Information about application.",
            [*APP_LABELS, "autosync_enabled", "repo", "dest_server", "dest_namespace", "sync_status",
             "health_status", "operation"],
            registry=r,
        )  # fmt: skip
        self.app_health_status = Gauge(
            "argocd_app_health_status",
            "The application's current health status (1). Removed from Argo CD 3.0; kept for dashboards and "
            "alerts written against it.",
            [*APP_LABELS, "health_status"],
            registry=r,
        )
        self.app_sync_total = Counter(
            "argocd_app_sync_total",
            'Number of application syncs; phase="Rollback" counts rollbacks a second time.',
            [*APP_LABELS, "dest_server", "phase", "dry_run"],
            registry=r,
        )
        self.app_sync_duration = Counter(
            "argocd_app_sync_duration_seconds_total",
            "Application sync performance in seconds total.",
            [*APP_LABELS, "dest_server"],
            registry=r,
        )
        self.app_reconcile = Histogram(
            "argocd_app_reconcile",
            "Application reconciliation performance in seconds.",
            ["namespace", "dest_server"],
            buckets=RECONCILE_BUCKETS,
            registry=r,
        )
        self.app_k8s_request_total = Counter(
            "argocd_app_k8s_request_total",
            "Number of Kubernetes requests executed during application reconciliation.",
            [
                *APP_LABELS,
                "server",
                "response_code",
                "verb",
                "resource_kind",
                "resource_namespace",
                "dry_run",
            ],
            registry=r,
        )
        self.git_request_total = Counter(
            "argocd_git_request_total",
            "Number of git requests performed by repo server",
            ["repo", "request_type"],
            registry=r,
        )
        self.git_request_duration = Histogram(
            "argocd_git_request_duration_seconds",
            "Git requests duration seconds.",
            ["repo", "request_type"],
            buckets=GIT_BUCKETS,
            registry=r,
        )
        self.git_fetch_fail_total = Counter(
            "argocd_git_fetch_fail_total", "Number of git fetch requests failures by repo server",
            ["repo", "revision"], registry=r,
        )  # fmt: skip
        self.git_lsremote_fail_total = Counter(
            "argocd_git_lsremote_fail_total", "Number of git ls-remote requests failures by repo server",
            ["repo", "revision"], registry=r,
        )  # fmt: skip
        self.cluster_info = Gauge(
            "argocd_cluster_info", "Information about cluster.", ["server", "k8s_version", "name"], registry=r
        )
        self.cluster_api_resource_objects = Gauge(
            "argocd_cluster_api_resource_objects", "Number of k8s resource objects in the cache.", ["server"],
            registry=r,
        )  # fmt: skip
        self.cluster_api_resources = Gauge(
            "argocd_cluster_api_resources",
            "Number of monitored kubernetes API resources.",
            ["server"],
            registry=r,
        )
        self.cluster_connection_status = Gauge(
            "argocd_cluster_connection_status", "The k8s cluster current connection status.",
            ["server", "k8s_version"], registry=r,
        )  # fmt: skip
        self.cluster_cache_age = Gauge(
            "argocd_cluster_cache_age_seconds", "Cluster cache age in seconds.", ["server"], registry=r
        )
        self.cluster_events_total = Counter(
            "argocd_cluster_events_total", "Number of processes k8s resource events.",
            ["server", "group", "kind"], registry=r,
        )  # fmt: skip
        self._cluster_sources: list[Callable[[], ClusterStats | None]] = []
        self.notifications_deliveries_total = Counter(
            "argocd_notifications_deliveries_total", "Number of delivered notifications.",
            ["trigger", "service", "succeeded"], registry=r,
        )  # fmt: skip
        self.notifications_trigger_eval_total = Counter(
            "argocd_notifications_trigger_eval_total", "Number of trigger evaluations.",
            ["name", "triggered"], registry=r,
        )  # fmt: skip
        dora = ["namespace", "name", "environment"]
        self.dora_deployment_frequency = Gauge(
            "argosy_dora_deployment_frequency_per_day",
            "Successful deployments per day over the DORA window.", dora, registry=r,
        )  # fmt: skip
        self.dora_lead_time = Gauge(
            "argosy_dora_lead_time_seconds",
            "Median lead time for changes (commit to healthy).",
            dora,
            registry=r,
        )
        self.dora_change_failure_rate = Gauge(
            "argosy_dora_change_failure_rate", "Failed deployments and rollbacks / all deployments.", dora,
            registry=r,
        )  # fmt: skip
        self.dora_time_to_restore = Gauge(
            "argosy_dora_time_to_restore_seconds",
            "Median time from a failed deployment to the next healthy one.", dora, registry=r,
        )  # fmt: skip
        self._cluster_info: dict[str, tuple[str, ...]] = {}
        self._cluster_conn: dict[str, tuple[str, ...]] = {}

    # ------------------------------------------------------------------------ applications

    def set_app_state(self, info: AppMetricsInfo) -> None:
        key = (info.namespace, info.name)
        labels = (
            info.namespace, info.name, info.project, _bool(info.autosync_enabled), repo_label(info.repo),
            info.dest_server, info.dest_namespace, info.sync_status, info.health_status, info.operation,
        )  # fmt: skip
        health = (info.namespace, info.name, info.project, info.health_status)
        with self._lock:
            old = self._app_info.get(key)
            if old is not None and old != labels:
                self.app_info.remove(*old)
            self.app_info.labels(*labels).set(1)
            self._app_info[key] = labels
            old_health = self._app_health.get(key)
            if old_health is not None and old_health != health:
                self.app_health_status.remove(*old_health)
            self.app_health_status.labels(*health).set(1)
            self._app_health[key] = health
            if old is None:
                # Start the app's sync counters at 0, so that increase() sees its first failure.
                for phase in SYNC_PHASES:
                    self.app_sync_total.labels(
                        info.namespace, info.name, info.project, info.dest_server, phase, "false"
                    )

    def delete_app(self, namespace: str, name: str) -> None:
        key = (namespace, name)
        with self._lock:
            if (old := self._app_info.pop(key, None)) is not None:
                self.app_info.remove(*old)
            if (old_health := self._app_health.pop(key, None)) is not None:
                self.app_health_status.remove(*old_health)

    def observe_reconcile(self, namespace: str, dest_server: str, seconds: float) -> None:
        self.app_reconcile.labels(namespace, dest_server).observe(seconds)

    def record_sync(
        self,
        *,
        namespace: str,
        name: str,
        project: str,
        dest_server: str,
        phase: str,
        duration_seconds: float | None = None,
        dry_run: bool = False,
        rollback: bool = False,
    ) -> None:
        self.app_sync_total.labels(namespace, name, project, dest_server, phase, _bool(dry_run)).inc()
        if rollback:
            self.app_sync_total.labels(
                namespace, name, project, dest_server, "Rollback", _bool(dry_run)
            ).inc()
        if duration_seconds is not None:
            self.app_sync_duration.labels(namespace, name, project, dest_server).inc(duration_seconds)

    def record_k8s_request(
        self,
        *,
        namespace: str,
        name: str,
        project: str,
        server: str,
        verb: str,
        resource_kind: str,
        resource_namespace: str,
        response_code: int,
        dry_run: bool = False,
    ) -> None:
        self.app_k8s_request_total.labels(
            namespace, name, project, server, str(response_code), verb, resource_kind, resource_namespace,
            _bool(dry_run),
        ).inc()  # fmt: skip

    def record_kube_request(
        self, *, server: str, verb: str, resource_kind: str, resource_namespace: str, response_code: int
    ) -> None:
        """``KubeRequestObserver``: the app labels come from the enclosing ``app_scope`` (empty outside
        one, as Argo CD's cluster-level requests)."""
        app = current_app()
        self.record_k8s_request(
            namespace=app.namespace if app else "",
            name=app.name if app else "",
            project=app.project if app else "",
            server=server,
            verb=verb,
            resource_kind=resource_kind,
            resource_namespace=resource_namespace,
            response_code=response_code,
            dry_run=app.dry_run if app else False,
        )

    # ------------------------------------------------------------------------- repo server

    def record_git_request(
        self, repo: str, request_type: str, seconds: float, *, failed: bool = False, revision: str = ""
    ) -> None:
        repo = repo_label(repo)
        self.git_request_total.labels(repo, request_type).inc()
        self.git_request_duration.labels(repo, request_type).observe(seconds)
        if failed:
            fail = self.git_fetch_fail_total if request_type == "fetch" else self.git_lsremote_fail_total
            fail.labels(repo, revision).inc()

    # ---------------------------------------------------------------------------- clusters

    def set_cluster_info(
        self,
        server: str,
        *,
        name: str,
        k8s_version: str,
        api_resource_objects: int,
        api_resources: int,
        connected: bool = True,
        cache_age_seconds: float = 0.0,
    ) -> None:
        info = (server, k8s_version, name)
        conn = (server, k8s_version)
        with self._lock:
            if (old := self._cluster_info.get(server)) is not None and old != info:
                self.cluster_info.remove(*old)
            if (old_conn := self._cluster_conn.get(server)) is not None and old_conn != conn:
                self.cluster_connection_status.remove(*old_conn)
            self._cluster_info[server] = info
            self._cluster_conn[server] = conn
            self.cluster_info.labels(*info).set(1)
            self.cluster_connection_status.labels(*conn).set(1 if connected else 0)
        self.cluster_api_resource_objects.labels(server).set(api_resource_objects)
        self.cluster_api_resources.labels(server).set(api_resources)
        self.cluster_cache_age.labels(server).set(cache_age_seconds)

    def record_cluster_event(self, server: str, group: str, kind: str) -> None:
        """``ClusterEventObserver``: one watch event applied by a live cache."""
        self.cluster_events_total.labels(server, group, kind).inc()

    def add_cluster_source(self, source: Callable[[], ClusterStats | None]) -> None:
        """Read ``source()`` (a live cache's figures) at each scrape into the ``argocd_cluster_*`` gauges."""
        self._cluster_sources.append(source)

    def refresh(self) -> None:
        """Pull the figures read at scrape time (the cluster sources); called by :func:`exposition`."""
        for source in self._cluster_sources:
            try:
                stats = source()
            except Exception as exc:
                log.warning("cluster metrics: %s", exc)
                continue
            if stats is None:
                continue
            self.set_cluster_info(
                stats.server,
                name=stats.name,
                k8s_version=stats.k8s_version,
                api_resource_objects=stats.api_resource_objects,
                api_resources=stats.api_resources,
                connected=stats.connected,
                cache_age_seconds=stats.cache_age_seconds,
            )

    # ----------------------------------------------------------------------- notifications

    def record_notification_delivery(self, trigger: str, service: str, succeeded: bool) -> None:
        self.notifications_deliveries_total.labels(trigger, service, _bool(succeeded)).inc()

    def record_trigger_eval(self, name: str, triggered: bool) -> None:
        self.notifications_trigger_eval_total.labels(name, _bool(triggered)).inc()

    # -------------------------------------------------------------------------------- DORA

    def set_dora(
        self,
        *,
        namespace: str,
        name: str,
        environment: str,
        deployments_per_day: float,
        lead_time_seconds: float | None,
        change_failure_rate: float | None,
        time_to_restore_seconds: float | None,
    ) -> None:
        labels = (namespace, name, environment)
        self.dora_deployment_frequency.labels(*labels).set(deployments_per_day)
        for gauge, value in (
            (self.dora_lead_time, lead_time_seconds),
            (self.dora_change_failure_rate, change_failure_rate),
            (self.dora_time_to_restore, time_to_restore_seconds),
        ):
            if value is None:
                with contextlib.suppress(KeyError):
                    gauge.remove(*labels)
            else:
                gauge.labels(*labels).set(value)

    # -------------------------------------------------------------------------- exposition

    def exposition(self) -> bytes:
        return exposition(self)


def exposition(metrics: PrometheusMetrics) -> bytes:
    """The ``/metrics`` body in Prometheus text format 0.0.4 (serve with ``CONTENT_TYPE``)."""
    metrics.refresh()
    data: bytes = generate_latest(metrics.registry)
    # Drop the ``*_created`` samples prometheus_client adds to counters and histograms: Argo CD has none,
    # and they would double the series count. Done here rather than with the process-wide switch.
    lines = [line for line in data.split(b"\n") if not (_is_created_sample(line))]
    return b"\n".join(lines)


def _is_created_sample(line: bytes) -> bool:
    if line.startswith(b"#"):
        return line.startswith((b"# HELP ", b"# TYPE ")) and line.split(b" ")[2].endswith(b"_created")
    name = line.split(b"{", 1)[0].split(b" ", 1)[0]
    return name.endswith(b"_created")
