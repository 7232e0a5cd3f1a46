"""Checks for ``cert-manager.io``: Certificate, Issuer, ClusterIssuer (Argo CD resource customizations)."""

from __future__ import annotations

from collections.abc import Callable

from argosy.model.health import HealthResult

from ._util import DEGRADED, HEALTHY, PROGRESSING, Obj, conditions, find_condition, get_str, result

GROUP = "cert-manager.io"


def certificate(obj: Obj) -> HealthResult:
    for cond in conditions(obj):
        if cond.get("type") == "Issuing" and cond.get("status") == "True":
            return result(PROGRESSING, get_str(cond, "message"))
    ready = find_condition(obj, "Ready")
    if ready is not None:
        if ready.get("status") == "True":
            return result(HEALTHY, get_str(ready, "message"))
        if ready.get("status") == "False":
            return result(DEGRADED, get_str(ready, "message"))
    return result(PROGRESSING, "Waiting for certificate")


def _issuer(waiting: str) -> Callable[[Obj], HealthResult]:
    def check(obj: Obj) -> HealthResult:
        ready = find_condition(obj, "Ready")
        if ready is not None:
            if ready.get("status") == "True":
                return result(HEALTHY, get_str(ready, "message"))
            if ready.get("status") == "False":
                return result(DEGRADED, get_str(ready, "message"))
        return result(PROGRESSING, waiting)

    return check


issuer = _issuer("Initializing issuer")
cluster_issuer = _issuer("Initializing ClusterIssuer")

CUSTOM_CHECKS = {
    (GROUP, "Certificate"): certificate,
    (GROUP, "Issuer"): issuer,
    (GROUP, "ClusterIssuer"): cluster_issuer,
}
