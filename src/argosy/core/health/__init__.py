"""Resource health assessment, compatible with Argo CD (gitops-engine built-ins + resource customizations).

Layer 1 (``argosy.core``): pure functions over plain dicts. May import ``argosy.model``, sibling
``argosy.core`` modules, PyYAML (text already in memory) and lupa (sandboxed Lua). No files, sockets,
subprocesses, asyncio or wall clock.

Entry points: :func:`assess` for one object, :func:`aggregate` for an application,
:class:`HealthOverrides` for argocd-cm Lua checks, :func:`default_registry` for the check table.
"""

from __future__ import annotations

from .aggregate import ResourceHealth, aggregate
from .assess import (
    PENDING_DELETION,
    assess,
    builtin_registry,
    default_registry,
    is_pending_deletion,
    run_check,
)
from .lua import LuaLimits, run_health_script
from .manifest import load_all_yaml, load_yaml
from .overrides import HealthOverrides, LuaHealthOverride
from .registry import HealthCheck, HealthRegistry

__all__ = [
    "PENDING_DELETION",
    "HealthCheck",
    "HealthOverrides",
    "HealthRegistry",
    "LuaHealthOverride",
    "LuaLimits",
    "ResourceHealth",
    "aggregate",
    "assess",
    "builtin_registry",
    "default_registry",
    "is_pending_deletion",
    "load_all_yaml",
    "load_yaml",
    "run_check",
    "run_health_script",
]
