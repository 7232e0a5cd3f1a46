"""Check for ``policy`` PodDisruptionBudget (an Argo CD resource customization)."""

from __future__ import annotations

from argosy.model.health import HealthResult

from ._util import DEGRADED, HEALTHY, PROGRESSING, Obj, conditions, get_map, get_str, result

GROUP = "policy"


def pod_disruption_budget(obj: Obj) -> HealthResult:
    if not get_map(obj, "status"):
        return result(PROGRESSING, "Waiting for status")
    verdict: HealthResult | None = None
    for cond in conditions(obj):  # the last DisruptionAllowed condition is the current one
        if cond.get("type") != "DisruptionAllowed":
            continue
        reason = get_str(cond, "reason")
        if cond.get("status") == "True":
            verdict = result(HEALTHY, f"PodDisruptionBudget has {reason}")
        elif cond.get("status") == "False":
            verdict = result(DEGRADED, f"PodDisruptionBudget has {reason}")
    return verdict or result(PROGRESSING, "Waiting for status")


CUSTOM_CHECKS = {(GROUP, "PodDisruptionBudget"): pod_disruption_budget}
