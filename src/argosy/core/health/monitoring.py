"""Checks for ``monitoring.coreos.com`` (prometheus-operator) workloads.

Prometheus, Alertmanager, PrometheusAgent and ThanosRuler share the ``Available`` condition.
"""

from __future__ import annotations

from argosy.model.health import HealthResult

from ._util import (
    DEGRADED,
    HEALTHY,
    PROGRESSING,
    SUSPENDED,
    Obj,
    find_condition,
    get,
    get_str,
    is_true,
    result,
)

GROUP = "monitoring.coreos.com"


def operator_workload(obj: Obj) -> HealthResult:
    if is_true(get(obj, "spec", "paused")):
        return result(SUSPENDED, "Reconciliation is paused")
    available = find_condition(obj, "Available")
    if available is None:
        return result(PROGRESSING, "Waiting for initialization")
    status = available.get("status")
    if status == "True":
        return result(HEALTHY, "All instances are available")
    if status == "Degraded":
        return result(PROGRESSING, get_str(available, "reason") or get_str(available, "message"))
    if status == "False":
        return result(DEGRADED, get_str(available, "message") or get_str(available, "reason"))
    return result(PROGRESSING, get_str(available, "message") or "Waiting for initialization")


CUSTOM_CHECKS = {
    (GROUP, kind): operator_workload
    for kind in ("Prometheus", "Alertmanager", "PrometheusAgent", "ThanosRuler")
}
