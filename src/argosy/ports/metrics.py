"""Port for metrics: what the controller, repo service and notifier report (Prometheus in production).

Layer 2: standard library only. ``argosy.adapters.metrics.PrometheusMetrics`` implements it with
Argo CD's metric names and labels; :class:`NullMetrics` discards everything (tests, tools).

The I/O adapters report their own requests through the small observer protocols below
(:class:`GitRequestObserver`, :class:`KubeRequestObserver`, :class:`ClusterEventObserver`), so that
no adapter imports another; the composition root hands them the Prometheus adapter. Which
Application a Kubernetes request is made for is not known to the Kubernetes client: the controller
runs each reconcile inside :func:`app_scope`, and the observer reads :func:`current_app`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Protocol

__all__ = [
    "AppMetricsInfo",
    "AppScope",
    "ClusterEventObserver",
    "ClusterStats",
    "GitRequestObserver",
    "KubeRequestObserver",
    "Metrics",
    "NullMetrics",
    "app_scope",
    "current_app",
]


@dataclass(frozen=True, slots=True)
class AppScope:
    """The Application a piece of work is done for: the app labels of ``argocd_app_k8s_request_total``."""

    namespace: str
    name: str
    project: str
    dry_run: bool = False


_CURRENT_APP: ContextVar[AppScope | None] = ContextVar("argosy_metrics_app", default=None)


@contextlib.contextmanager
def app_scope(namespace: str, name: str, project: str, *, dry_run: bool = False) -> Iterator[AppScope]:
    """Attribute the requests made inside the block (and by tasks started in it) to one Application."""
    scope = AppScope(namespace, name, project, dry_run)
    token = _CURRENT_APP.set(scope)
    try:
        yield scope
    finally:
        _CURRENT_APP.reset(token)


def current_app() -> AppScope | None:
    """The Application of the enclosing :func:`app_scope`, or ``None`` (cluster-level work)."""
    return _CURRENT_APP.get()


class GitRequestObserver(Protocol):
    """Told about each network request of the Git client (``ls-remote`` or ``fetch``)."""

    def record_git_request(
        self, repo: str, request_type: str, seconds: float, *, failed: bool = False, revision: str = ""
    ) -> None:
        """``repo`` is the URL as the client got it: the observer removes any credentials in it."""
        ...


class KubeRequestObserver(Protocol):
    """Told about each request the Kubernetes client sends (watches when their answer starts)."""

    def record_kube_request(
        self, *, server: str, verb: str, resource_kind: str, resource_namespace: str, response_code: int
    ) -> None:
        """``verb`` is Argo CD's: ``Get``, ``List``, ``Watch``, ``Create``, ``Update``, ``Patch``,
        ``Delete`` or ``Unknown``; ``resource_kind`` the resource's plural name (``deployments``);
        ``response_code`` 0 when no answer came (connection failed, timed out)."""
        ...


class ClusterEventObserver(Protocol):
    """Told about each watch event the live cache applies."""

    def record_cluster_event(self, server: str, group: str, kind: str) -> None: ...


@dataclass(frozen=True, slots=True)
class ClusterStats:
    """What ``argocd_cluster_*`` report for one cluster, read from its live cache at scrape time."""

    server: str
    name: str
    k8s_version: str
    api_resource_objects: int
    api_resources: int
    connected: bool
    cache_age_seconds: float


@dataclass(frozen=True, slots=True)
class AppMetricsInfo:
    """The labels of ``argocd_app_info`` for one Application (``namespace`` is the Application's own)."""

    namespace: str
    name: str
    project: str
    dest_server: str = ""
    dest_namespace: str = ""
    repo: str = ""
    sync_status: str = "Unknown"
    health_status: str = "Unknown"
    operation: str = ""
    """The running operation: ``sync``, ``delete`` or empty."""
    autosync_enabled: bool = False


class Metrics(Protocol):
    def set_app_state(self, info: AppMetricsInfo) -> None:
        """Replace the app's ``argocd_app_info`` and ``argocd_app_health_status`` series."""
        ...

    def delete_app(self, namespace: str, name: str) -> None:
        """Forget every series of a deleted Application."""
        ...

    def observe_reconcile(self, namespace: str, dest_server: str, seconds: float) -> None: ...

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
        """A finished operation (phase ``Succeeded``, ``Failed`` or ``Error``); ``rollback`` adds a
        ``phase="Rollback"`` increment as well."""
        ...

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
    ) -> None: ...

    def record_git_request(
        self, repo: str, request_type: str, seconds: float, *, failed: bool = False, revision: str = ""
    ) -> None:
        """``request_type`` is ``ls-remote`` or ``fetch``."""
        ...

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
    ) -> None: ...

    def record_notification_delivery(self, trigger: str, service: str, succeeded: bool) -> None: ...

    def record_trigger_eval(self, name: str, triggered: bool) -> None: ...

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
        """DORA figures of one application/environment; ``None`` removes that series."""
        ...


class NullMetrics:
    """Discards every measurement."""

    def set_app_state(self, info: AppMetricsInfo) -> None:
        return None

    def delete_app(self, namespace: str, name: str) -> None:
        return None

    def observe_reconcile(self, namespace: str, dest_server: str, seconds: float) -> None:
        return None

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
        return None

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
        return None

    def record_git_request(
        self, repo: str, request_type: str, seconds: float, *, failed: bool = False, revision: str = ""
    ) -> None:
        return None

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
        return None

    def record_notification_delivery(self, trigger: str, service: str, succeeded: bool) -> None:
        return None

    def record_trigger_eval(self, name: str, triggered: bool) -> None:
        return None

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
        return None
