"""Built-in checks for the core group (``v1``): Pod, PersistentVolumeClaim, Service."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from argosy.model.health import HealthResult

from ._util import (
    DEGRADED,
    HEALTHY,
    PROGRESSING,
    UNKNOWN,
    Obj,
    get,
    get_list,
    get_map,
    get_str,
    is_true,
    result,
)

GROUP = ""

HOOK_ANNOTATION = "argocd.argoproj.io/hook"
HELM_HOOK_ANNOTATION = "helm.sh/hook"
IGNORE_RESTART_POLICY_ANNOTATION = "argocd.argoproj.io/ignore-restart-policy"


def is_hook(obj: Obj) -> bool:
    """True for Argo CD or Helm hooks (Helm's crd-install is not a hook)."""
    annotations = get_map(obj, "metadata", "annotations")
    if annotations.get(HOOK_ANNOTATION):
        return True
    helm = annotations.get(HELM_HOOK_ANNOTATION)
    return isinstance(helm, str) and bool(helm) and helm != "crd-install"


def _container_statuses(obj: Obj, *fields: str) -> list[Mapping[str, Any]]:
    out: list[Mapping[str, Any]] = []
    for field in fields:
        out.extend(s for s in get_list(obj, "status", field) if isinstance(s, Mapping))
    return out


def _waiting_is_error(reason: str) -> bool:
    return reason.startswith("Err") or reason.endswith("Error") or reason.endswith("BackOff")


def _failure_message(obj: Obj) -> str:
    """The message of a failed pod: the pod's own, else the first non-zero container termination."""
    message = get_str(obj, "status", "message")
    if message:
        return message
    for status in _container_statuses(obj, "initContainerStatuses", "containerStatuses"):
        terminated = get_map(status, "state", "terminated")
        if terminated and get(terminated, "exitCode") not in (None, 0):
            text = get_str(terminated, "message") or get_str(terminated, "reason")
            if text:
                return text
    return ""


def pod(obj: Obj) -> HealthResult:
    restart_policy = get_str(obj, "spec", "restartPolicy")
    ignore_policy = is_true(get(obj, "metadata", "annotations", IGNORE_RESTART_POLICY_ANNOTATION))
    phase = get_str(obj, "status", "phase")
    long_running = restart_policy == "Always" or (ignore_policy and not is_hook(obj))
    if long_running and phase in ("Running", "Pending", ""):
        for status in _container_statuses(obj, "initContainerStatuses", "containerStatuses"):
            waiting = get_map(status, "state", "waiting")
            reason = get_str(waiting, "reason")
            if waiting and _waiting_is_error(reason):
                return result(DEGRADED, get_str(waiting, "message") or reason)
        if phase == "Running":
            ready = any(
                get(c, "type") == "Ready" and get(c, "status") == "True"
                for c in get_list(obj, "status", "conditions")
                if isinstance(c, Mapping)
            )
            if ready:
                return result(HEALTHY, get_str(obj, "status", "message"))
            for status in _container_statuses(obj, "containerStatuses"):
                last = get_map(status, "lastState", "terminated")
                if last:
                    return result(DEGRADED, get_str(last, "message") or get_str(last, "reason"))
            return result(PROGRESSING, get_str(obj, "status", "message"))
    if phase == "Pending":
        return result(PROGRESSING, get_str(obj, "status", "message"))
    if phase == "Succeeded":
        return result(HEALTHY, get_str(obj, "status", "message"))
    if phase == "Failed":
        return result(DEGRADED, _failure_message(obj))
    if phase == "Running":
        return result(PROGRESSING, get_str(obj, "status", "message"))
    return result(UNKNOWN, get_str(obj, "status", "message"))


def persistent_volume_claim(obj: Obj) -> HealthResult:
    phase = get_str(obj, "status", "phase")
    if phase == "Bound":
        return result(HEALTHY)
    if phase == "Pending":
        return result(PROGRESSING)
    if phase == "Lost":
        return result(DEGRADED)
    return result(UNKNOWN)


def load_balancer_assigned(obj: Obj) -> bool:
    """True when ``status.loadBalancer.ingress`` has at least one entry."""
    return bool(get_list(obj, "status", "loadBalancer", "ingress"))


def service(obj: Obj) -> HealthResult:
    if get_str(obj, "spec", "type") == "LoadBalancer" and not load_balancer_assigned(obj):
        return result(PROGRESSING)
    return result(HEALTHY)


CHECKS = {
    (GROUP, "Pod"): pod,
    (GROUP, "PersistentVolumeClaim"): persistent_volume_claim,
    (GROUP, "Service"): service,
}
