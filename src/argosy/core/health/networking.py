"""Built-in check for Ingress, in the ``networking.k8s.io`` and legacy ``extensions`` groups."""

from __future__ import annotations

from argosy.model.health import HealthResult

from ._util import HEALTHY, PROGRESSING, Obj, result
from .core_v1 import load_balancer_assigned


def ingress(obj: Obj) -> HealthResult:
    if load_balancer_assigned(obj):
        return result(HEALTHY)
    return result(PROGRESSING)


CHECKS = {
    ("networking.k8s.io", "Ingress"): ingress,
    ("extensions", "Ingress"): ingress,
}
