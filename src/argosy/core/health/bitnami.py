"""Check for ``bitnami.com`` SealedSecret (an Argo CD resource customization)."""

from __future__ import annotations

from argosy.model.health import HealthResult

from ._util import DEGRADED, HEALTHY, PROGRESSING, Obj, find_condition, get_str, result

GROUP = "bitnami.com"


def sealed_secret(obj: Obj) -> HealthResult:
    synced = find_condition(obj, "Synced")
    if synced is not None:
        if synced.get("status") == "False":
            return result(DEGRADED, get_str(synced, "message"))
        if synced.get("status") == "True":
            return result(HEALTHY, get_str(synced, "message"))
    return result(PROGRESSING, "Waiting for Sealed Secret to be decrypted")


CUSTOM_CHECKS = {(GROUP, "SealedSecret"): sealed_secret}
