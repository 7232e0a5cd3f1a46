"""Checks for ``external-secrets.io`` (Argo CD resource customizations)."""

from __future__ import annotations

from collections.abc import Callable

from argosy.model.health import HealthResult

from ._util import DEGRADED, HEALTHY, PROGRESSING, Obj, conditions, find_condition, get_str, result

GROUP = "external-secrets.io"


def _ready_based(kind: str) -> Callable[[Obj], HealthResult]:
    def check(obj: Obj) -> HealthResult:
        ready = find_condition(obj, "Ready")
        if ready is not None:
            if ready.get("status") == "False":
                return result(DEGRADED, get_str(ready, "message"))
            if ready.get("status") == "True":
                return result(HEALTHY, get_str(ready, "message"))
        return result(PROGRESSING, f"Waiting for {kind}")

    check.__name__ = f"{kind[0].lower()}{kind[1:]}_health"
    return check


external_secret = _ready_based("ExternalSecret")
push_secret = _ready_based("PushSecret")
secret_store = _ready_based("SecretStore")
cluster_secret_store = _ready_based("ClusterSecretStore")


def cluster_external_secret(obj: Obj) -> HealthResult:
    conds = conditions(obj)
    for cond in conds:
        if cond.get("type") == "Ready" and cond.get("status") == "True":
            return result(HEALTHY)
    for cond in conds:
        if cond.get("type") in ("NotReady", "PartiallyReady") and cond.get("status") == "True":
            return result(DEGRADED, get_str(cond, "message"))
    return result(PROGRESSING, "Waiting for ClusterExternalSecret")


CUSTOM_CHECKS = {
    (GROUP, "ExternalSecret"): external_secret,
    (GROUP, "PushSecret"): push_secret,
    (GROUP, "SecretStore"): secret_store,
    (GROUP, "ClusterSecretStore"): cluster_secret_store,
    (GROUP, "ClusterExternalSecret"): cluster_external_secret,
}
