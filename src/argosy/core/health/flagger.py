"""Check for ``flagger.app`` Canary (an Argo CD resource customization)."""

from __future__ import annotations

from argosy.model.health import HealthResult

from ._util import DEGRADED, HEALTHY, PROGRESSING, UNKNOWN, Obj, find_condition, get_int, get_str, result

GROUP = "flagger.app"

_PHASES = {
    "Initializing": PROGRESSING,
    "Initialized": HEALTHY,
    "Waiting": PROGRESSING,
    "WaitingPromotion": PROGRESSING,
    "Progressing": PROGRESSING,
    "Promoting": PROGRESSING,
    "Finalising": PROGRESSING,
    "Succeeded": HEALTHY,
    "Failed": DEGRADED,
    "Terminating": PROGRESSING,
    "Terminated": HEALTHY,
}


def canary(obj: Obj) -> HealthResult:
    phase = get_str(obj, "status", "phase")
    if not phase:
        return result(PROGRESSING, "Waiting for canary to be initialized")
    parts = [phase]
    weight = get_int(obj, "status", "canaryWeight")
    if weight > 0:
        parts.append(f"Canary Weight: {weight} %")
    detail = get_str(find_condition(obj, "Promoted"), "message")
    if detail:
        parts.append(detail)
    return result(_PHASES.get(phase, UNKNOWN), " --- ".join(parts))


CUSTOM_CHECKS = {(GROUP, "Canary"): canary}
