"""Built-in check for ``apiregistration.k8s.io`` APIService (v1 and v1beta1)."""

from __future__ import annotations

from argosy.model.health import HealthResult

from ._util import HEALTHY, PROGRESSING, Obj, find_condition, get_str, result

GROUP = "apiregistration.k8s.io"


def api_service(obj: Obj) -> HealthResult:
    cond = find_condition(obj, "Available")
    if cond is None:
        return result(PROGRESSING, "Waiting to be processed")
    message = f"{get_str(cond, 'reason')}: {get_str(cond, 'message')}"
    if cond.get("status") == "True":
        return result(HEALTHY, message)
    return result(PROGRESSING, message)


CHECKS = {(GROUP, "APIService"): api_service}
