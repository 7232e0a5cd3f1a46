"""Built-in checks for the ``apps`` group: Deployment, StatefulSet, DaemonSet, ReplicaSet."""

from __future__ import annotations

from argosy.model.health import HealthResult

from ._util import (
    DEGRADED,
    HEALTHY,
    PROGRESSING,
    SUSPENDED,
    Obj,
    conditions,
    get,
    get_int,
    get_str,
    has,
    is_true,
    result,
)

GROUP = "apps"


def _generation_observed(obj: Obj) -> bool:
    return get_int(obj, "metadata", "generation") <= get_int(obj, "status", "observedGeneration")


def deployment(obj: Obj) -> HealthResult:
    if is_true(get(obj, "spec", "paused")):
        return result(SUSPENDED, "Deployment is paused")
    name = get_str(obj, "metadata", "name")
    if not _generation_observed(obj):
        return result(
            PROGRESSING,
            "Waiting for rollout to finish: observed deployment generation less than desired generation",
        )
    for cond in conditions(obj):
        if cond.get("type") == "Progressing" and cond.get("reason") == "ProgressDeadlineExceeded":
            return result(DEGRADED, f'Deployment "{name}" exceeded its progress deadline')
    updated = get_int(obj, "status", "updatedReplicas")
    total = get_int(obj, "status", "replicas")
    available = get_int(obj, "status", "availableReplicas")
    if has(obj, "spec", "replicas") and updated < get_int(obj, "spec", "replicas"):
        wanted = get_int(obj, "spec", "replicas")
        return result(
            PROGRESSING,
            f"Waiting for rollout to finish: {updated} out of {wanted} new replicas have been updated...",
        )
    if total > updated:
        return result(
            PROGRESSING,
            f"Waiting for rollout to finish: {total - updated} old replicas are pending termination...",
        )
    if available < updated:
        return result(
            PROGRESSING,
            f"Waiting for rollout to finish: {available} of {updated} updated replicas are available...",
        )
    return result(HEALTHY)


def stateful_set(obj: Obj) -> HealthResult:
    observed = get_int(obj, "status", "observedGeneration")
    if observed == 0 or get_int(obj, "metadata", "generation") > observed:
        return result(PROGRESSING, "Waiting for statefulset spec update to be observed...")
    ready = get_int(obj, "status", "readyReplicas")
    if has(obj, "spec", "replicas"):
        wanted = get_int(obj, "spec", "replicas")
        if ready < wanted:
            return result(PROGRESSING, f"Waiting for {wanted - ready} pods to be ready...")
    strategy = get_str(obj, "spec", "updateStrategy", "type")
    partition = get(obj, "spec", "updateStrategy", "rollingUpdate", "partition")
    updated = get_int(obj, "status", "updatedReplicas")
    if strategy == "RollingUpdate" and partition is not None and has(obj, "spec", "replicas"):
        target = get_int(obj, "spec", "replicas") - get_int(
            obj, "spec", "updateStrategy", "rollingUpdate", "partition"
        )
        if updated < target:
            return result(
                PROGRESSING,
                f"Waiting for partitioned roll out to finish: {updated} out of {target} new pods "
                "have been updated...",
            )
        return result(HEALTHY, f"partitioned roll out complete: {updated} new pods have been updated...")
    if strategy == "OnDelete":
        return result(HEALTHY, f"statefulset has {ready} ready pods")
    current_rev = get_str(obj, "status", "currentRevision")
    update_rev = get_str(obj, "status", "updateRevision")
    if update_rev != current_rev:
        return result(
            PROGRESSING,
            f"waiting for statefulset rolling update to complete {updated} pods at revision {update_rev}...",
        )
    return result(HEALTHY, f"statefulset rolling update complete {ready} pods at revision {current_rev}...")


def daemon_set(obj: Obj) -> HealthResult:
    if get_int(obj, "metadata", "generation") > get_int(obj, "status", "observedGeneration"):
        return result(
            PROGRESSING,
            "Waiting for rollout to finish: observed daemon set generation less than desired generation",
        )
    desired = get_int(obj, "status", "desiredNumberScheduled")
    updated = get_int(obj, "status", "updatedNumberScheduled")
    available = get_int(obj, "status", "numberAvailable")
    if get_str(obj, "spec", "updateStrategy", "type") == "OnDelete":
        return result(HEALTHY, f"daemon set {updated} out of {desired} new pods have been updated")
    if updated < desired:
        return result(
            PROGRESSING,
            f"Waiting for daemon set {get_str(obj, 'metadata', 'name')!r} rollout to finish: "
            f"{updated} out of {desired} new pods have been updated...",
        )
    if available < desired:
        return result(
            PROGRESSING,
            f"Waiting for daemon set {get_str(obj, 'metadata', 'name')!r} rollout to finish: "
            f"{available} of {desired} updated pods are available...",
        )
    return result(HEALTHY)


def replica_set(obj: Obj) -> HealthResult:
    if not _generation_observed(obj):
        return result(
            PROGRESSING,
            "Waiting for rollout to finish: observed replica set generation less than desired generation",
        )
    for cond in conditions(obj):
        if cond.get("type") == "ReplicaFailure" and cond.get("status") == "True":
            return result(DEGRADED, get_str(cond, "message"))
    if has(obj, "spec", "replicas"):
        wanted = get_int(obj, "spec", "replicas")
        available = get_int(obj, "status", "availableReplicas")
        if available < wanted:
            return result(
                PROGRESSING,
                f"Waiting for rollout to finish: {available} out of {wanted} new replicas are available...",
            )
    return result(HEALTHY)


CHECKS = {
    (GROUP, "Deployment"): deployment,
    (GROUP, "StatefulSet"): stateful_set,
    (GROUP, "DaemonSet"): daemon_set,
    (GROUP, "ReplicaSet"): replica_set,
}
