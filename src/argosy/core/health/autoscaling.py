"""Built-in check for ``autoscaling`` HorizontalPodAutoscaler (v1, v2, v2beta1, v2beta2).

autoscaling/v1 has no ``status.conditions``; the API server carries them in the
``autoscaling.alpha.kubernetes.io/conditions`` annotation as a JSON list.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from argosy.model.health import HealthResult

from ._util import DEGRADED, HEALTHY, PROGRESSING, Obj, api_version_of, conditions, get, get_str, result

GROUP = "autoscaling"
V1_CONDITIONS_ANNOTATION = "autoscaling.alpha.kubernetes.io/conditions"

_DEGRADED_REASONS: dict[str, frozenset[str]] = {
    "AbleToScale": frozenset({"FailedGetScale", "FailedUpdateScale"}),
    "ScalingActive": frozenset(
        {
            "FailedGetResourceMetric",
            "FailedGetObjectMetric",
            "FailedGetPodsMetric",
            "FailedGetExternalMetric",
            "FailedGetContainerResourceMetric",
            "FailedComputeMetricsReplicas",
            "InvalidSelector",
        }
    ),
}
_HEALTHY_TYPES = frozenset({"AbleToScale", "ScalingLimited"})


def _hpa_conditions(obj: Obj) -> list[Mapping[str, Any]]:
    if api_version_of(obj) == "autoscaling/v1":
        raw = get(obj, "metadata", "annotations", V1_CONDITIONS_ANNOTATION)
        if not isinstance(raw, str) or not raw.strip():
            return []
        parsed = json.loads(raw)
        if not isinstance(parsed, list):
            raise ValueError(f"{V1_CONDITIONS_ANNOTATION} is not a JSON list")
        return [c for c in parsed if isinstance(c, Mapping)]
    return conditions(obj)


def horizontal_pod_autoscaler(obj: Obj) -> HealthResult:
    conds = _hpa_conditions(obj)
    if not conds:
        return result(PROGRESSING, "Waiting to autoscale")
    for cond in conds:
        if get_str(cond, "reason") in _DEGRADED_REASONS.get(get_str(cond, "type"), frozenset()):
            return result(DEGRADED, get_str(cond, "message"))
    for cond in conds:
        if get_str(cond, "type") in _HEALTHY_TYPES and cond.get("status") == "True":
            return result(HEALTHY, get_str(cond, "message"))
    return result(PROGRESSING, "Waiting to autoscale")


CHECKS = {(GROUP, "HorizontalPodAutoscaler"): horizontal_pod_autoscaler}
