"""Checks for every kind in any ``*.crossplane.io`` or ``*.upbound.io`` group (wildcard customizations).

Decision (ours): a resource is Degraded when any health-bearing condition is False, and the message
then lists the reasons of the health-bearing conditions in a fixed type order, so it is stable
whatever order the controller wrote them in. Kinds that never have a status are Healthy.
"""

from __future__ import annotations

from argosy.model.health import HealthResult

from ._util import DEGRADED, HEALTHY, PROGRESSING, Obj, conditions, get_str, result

UP_TO_DATE = "Resource is up-to-date."

# Condition types that carry health, in the order their reasons are reported.
_HEALTH_TYPES = (
    "Installed",
    "Healthy",
    "RevisionHealthy",
    "Synced",
    "LastAsyncOperation",
    "Ready",
    "Offered",
    "Established",
)
_STATUSLESS_KINDS = frozenset(
    {
        "Composition",
        "CompositionRevision",
        "DeploymentRuntimeConfig",
        "ControllerConfig",
        "ProviderConfig",
        "ProviderConfigUsage",
        "ClusterProviderConfig",
        "EnvironmentConfig",
        "ImageConfig",
        "Usage",
    }
)


def crossplane_resource(obj: Obj) -> HealthResult:
    conds = [c for c in conditions(obj) if get_str(c, "type") in _HEALTH_TYPES]
    if not conds:
        if get_str(obj, "kind") in _STATUSLESS_KINDS:
            return result(HEALTHY, UP_TO_DATE)
        return result(PROGRESSING, "Waiting for the resource to be reconciled")
    ordered = sorted(conds, key=lambda c: _HEALTH_TYPES.index(get_str(c, "type")))
    if any(c.get("status") == "False" for c in ordered):
        reasons = [get_str(c, "reason") for c in ordered if get_str(c, "reason")]
        return result(DEGRADED, " ".join(reasons))
    if all(c.get("status") == "True" for c in ordered):
        return result(HEALTHY, UP_TO_DATE)
    pending = next(c for c in ordered if c.get("status") != "True")
    return result(PROGRESSING, get_str(pending, "message") or get_str(pending, "reason"))


CUSTOM_CHECKS = {
    ("*.crossplane.io", "*"): crossplane_resource,
    ("*.upbound.io", "*"): crossplane_resource,
}
