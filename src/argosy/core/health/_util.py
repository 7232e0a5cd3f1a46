"""Small readers for Kubernetes objects held as plain dicts (parsed YAML/JSON).

Every reader is total: a missing or mistyped field gives the default, never an exception.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from argosy.model.health import HealthResult, HealthStatus

Obj = Mapping[str, Any]


def get(obj: Any, *path: str) -> Any:
    """The value at ``path`` or None when any step is missing or not a mapping."""
    cur = obj
    for key in path:
        if not isinstance(cur, Mapping):
            return None
        cur = cur.get(key)
    return cur


def get_map(obj: Any, *path: str) -> Mapping[str, Any]:
    value = get(obj, *path)
    return value if isinstance(value, Mapping) else {}


def get_list(obj: Any, *path: str) -> list[Any]:
    value = get(obj, *path)
    return value if isinstance(value, list) else []


def get_str(obj: Any, *path: str, default: str = "") -> str:
    value = get(obj, *path)
    return value if isinstance(value, str) else default


def get_int(obj: Any, *path: str, default: int = 0) -> int:
    """An integer field; integral floats and decimal strings are accepted as Kubernetes clients do."""
    value = get(obj, *path)
    if isinstance(value, bool):
        return default
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    return default


def has(obj: Any, *path: str) -> bool:
    return get(obj, *path) is not None


def is_true(value: Any) -> bool:
    """True for a YAML boolean true or the string "true" (case-insensitive)."""
    if isinstance(value, bool):
        return value
    return isinstance(value, str) and value.lower() == "true"


def conditions(obj: Any) -> list[Mapping[str, Any]]:
    """``status.conditions`` entries that are mappings, in document order."""
    return [c for c in get_list(obj, "status", "conditions") if isinstance(c, Mapping)]


def find_condition(obj: Any, cond_type: str) -> Mapping[str, Any] | None:
    """The first condition of type ``cond_type``."""
    for cond in conditions(obj):
        if cond.get("type") == cond_type:
            return cond
    return None


def cond_message(cond: Mapping[str, Any] | None) -> str:
    return get_str(cond, "message")


def api_group(api_version: str) -> str:
    """The API group of an apiVersion ("apps/v1" -> "apps", "v1" -> "")."""
    group, sep, _version = api_version.rpartition("/")
    return group if sep else ""


def api_version_of(obj: Any) -> str:
    return get_str(obj, "apiVersion")


def group_kind(obj: Any) -> tuple[str, str]:
    return api_group(api_version_of(obj)), get_str(obj, "kind")


def result(status: HealthStatus, message: str = "") -> HealthResult:
    return HealthResult(status=status, message=message)


HEALTHY = HealthStatus.HEALTHY
PROGRESSING = HealthStatus.PROGRESSING
DEGRADED = HealthStatus.DEGRADED
SUSPENDED = HealthStatus.SUSPENDED
MISSING = HealthStatus.MISSING
UNKNOWN = HealthStatus.UNKNOWN
