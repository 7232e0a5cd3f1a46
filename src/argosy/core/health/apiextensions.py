"""Check for ``apiextensions.k8s.io`` CustomResourceDefinition (an Argo CD resource customization)."""

from __future__ import annotations

from argosy.model.health import HealthResult

from ._util import DEGRADED, HEALTHY, PROGRESSING, Obj, conditions, get, get_str, result

GROUP = "apiextensions.k8s.io"


def custom_resource_definition(obj: Obj) -> HealthResult:
    if get(obj, "metadata", "deletionTimestamp") is not None:
        return result(PROGRESSING, "CRD is terminating")
    conds = conditions(obj)
    if not conds:
        return result(PROGRESSING, "Status conditions not found")
    by_type = {get_str(c, "type"): c for c in conds}
    terminating = by_type.get("Terminating")
    if terminating is not None and terminating.get("status") == "True":
        return result(PROGRESSING, f"CRD is terminating: {get_str(terminating, 'message')}")
    names = by_type.get("NamesAccepted")
    if names is not None and names.get("status") == "False":
        return result(DEGRADED, f"CRD names have not been accepted: {get_str(names, 'message')}")
    established = by_type.get("Established")
    if established is not None and established.get("status") == "False":
        if get_str(established, "reason") == "Installing":
            return result(PROGRESSING, "CRD is being installed")
        return result(DEGRADED, "CRD is not established")
    non_structural = by_type.get("NonStructuralSchema")
    if non_structural is not None and non_structural.get("status") == "True":
        return result(DEGRADED, f"Schema violations found: {get_str(non_structural, 'message')}")
    return result(HEALTHY, "CRD is healthy")


CUSTOM_CHECKS = {(GROUP, "CustomResourceDefinition"): custom_resource_definition}
