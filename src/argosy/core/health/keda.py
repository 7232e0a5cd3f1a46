"""Checks for ``keda.sh`` ScaledObject and ScaledJob (Argo CD resource customizations)."""

from __future__ import annotations

from collections.abc import Callable

from argosy.model.health import HealthResult

from ._util import DEGRADED, HEALTHY, PROGRESSING, SUSPENDED, Obj, find_condition, get_str, result

GROUP = "keda.sh"


def _scaler(kind: str) -> Callable[[Obj], HealthResult]:
    def check(obj: Obj) -> HealthResult:
        paused = find_condition(obj, "Paused")
        if paused is not None and paused.get("status") == "True":
            return result(SUSPENDED, get_str(paused, "message") or f"{kind} is paused")
        fallback = find_condition(obj, "Fallback")
        if fallback is not None and fallback.get("status") == "True":
            return result(DEGRADED, get_str(fallback, "message"))
        ready = find_condition(obj, "Ready")
        if ready is not None:
            if ready.get("status") == "True":
                return result(HEALTHY, get_str(ready, "message"))
            # False, and also Unknown (some triggers failing), are Degraded
            return result(DEGRADED, get_str(ready, "message"))
        running = find_condition(obj, "Running")
        return result(PROGRESSING, get_str(running, "message") or f"Waiting for {kind}")

    return check


scaled_object = _scaler("ScaledObject")
scaled_job = _scaler("ScaledJob")

CUSTOM_CHECKS = {
    (GROUP, "ScaledObject"): scaled_object,
    (GROUP, "ScaledJob"): scaled_job,
}
