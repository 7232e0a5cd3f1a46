"""Port for metrics: what the controller, repo service and notifier report (Prometheus in production).

Layer 2: standard library only. ``argosy.adapters.metrics.PrometheusMetrics`` implements it with
Argo CD's metric names and labels; :class:`NullMetrics` discards everything (tests, tools).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

__all__ = ["AppMetricsInfo", "Metrics", "NullMetrics"]


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
