"""Resource health assessment: deletion, then Lua overrides, then the registry of built-in checks."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from argosy.model.health import HealthResult, HealthStatus

from . import (
    apiextensions,
    apiregistration,
    apps,
    argoproj,
    autoscaling,
    batch,
    bitnami,
    cert_manager,
    core_v1,
    crossplane,
    external_secrets,
    flagger,
    keda,
    monitoring,
    networking,
    policy,
)
from ._util import get, get_list, group_kind
from .lua import LuaLimits, run_health_script
from .overrides import HealthOverrides
from .registry import HealthRegistry

HOOK_FINALIZER = "argocd.argoproj.io/hook-finalizer"
PENDING_DELETION = "Pending deletion"

_BUILTIN_MODULES = (core_v1, apps, batch, networking, autoscaling, apiregistration, argoproj)
_CUSTOM_MODULES = (
    argoproj,
    batch,
    policy,
    apiextensions,
    bitnami,
    cert_manager,
    external_secrets,
    flagger,
    keda,
    monitoring,
    crossplane,
)


def builtin_registry() -> HealthRegistry:
    """The checks gitops-engine has in Go (no resource customizations)."""
    registry = HealthRegistry()
    for module in _BUILTIN_MODULES:
        for (group, kind), check in getattr(module, "CHECKS", {}).items():
            registry.register(group, kind, check)
    return registry


def default_registry(*, application_health: bool = False) -> HealthRegistry:
    """Built-ins plus our Python versions of Argo CD's shipped resource customizations (which win).

    ``application_health`` opts in to argoproj.io/Application health (off by default, as in Argo CD).
    """
    registry = builtin_registry()
    for module in _CUSTOM_MODULES:
        for (group, kind), check in getattr(module, "CUSTOM_CHECKS", {}).items():
            registry.register(group, kind, check)
    if application_health:
        for (group, kind), check in argoproj.APPLICATION_CHECK.items():
            registry.register(group, kind, check)
    return registry


_DEFAULT_REGISTRY = default_registry()


def _unknown(message: str) -> HealthResult:
    return HealthResult(status=HealthStatus.UNKNOWN, message=message)


def is_pending_deletion(obj: Mapping[str, Any]) -> bool:
    """A deletionTimestamp and no hook finalizer (hooks keep their own health while finalized)."""
    if get(obj, "metadata", "deletionTimestamp") is None:
        return False
    return HOOK_FINALIZER not in get_list(obj, "metadata", "finalizers")


def run_check(
    obj: Mapping[str, Any],
    *,
    overrides: HealthOverrides | None = None,
    registry: HealthRegistry | None = None,
    lua_limits: LuaLimits | None = None,
) -> HealthResult | None:
    """The check for the object's (group, kind) alone, without the deletion rule; never raises."""
    try:
        group, kind = group_kind(obj)
        if overrides:
            override = overrides.lookup(group, kind)
            if override is not None:
                return run_health_script(override.script, obj, lua_limits)
        check = (registry or _DEFAULT_REGISTRY).lookup(group, kind)
        if check is None:
            return None
        return check(obj)
    except Exception as exc:  # a check must never take the controller down
        return _unknown(f"health check failed: {exc}")


def assess(
    obj: object,
    *,
    overrides: HealthOverrides | None = None,
    registry: HealthRegistry | None = None,
    lua_limits: LuaLimits | None = None,
) -> HealthResult | None:
    """The health of one live object, or None when its kind has no health.

    Order (Argo CD's): pending deletion, then a Lua override from argocd-cm, then the registry
    (shipped customizations over built-ins). Never raises: errors become Unknown with a message.
    """
    if not isinstance(obj, Mapping):
        return _unknown(f"resource is not an object (got {type(obj).__name__})")
    try:
        if is_pending_deletion(obj):
            return HealthResult(status=HealthStatus.PROGRESSING, message=PENDING_DELETION)
    except Exception as exc:  # pragma: no cover - get() is total, kept as a belt
        return _unknown(f"health check failed: {exc}")
    return run_check(obj, overrides=overrides, registry=registry, lua_limits=lua_limits)
