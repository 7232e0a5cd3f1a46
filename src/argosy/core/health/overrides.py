"""Custom health checks from ``argocd-cm``: Lua scripts keyed by (group, kind).

Two spellings are read, as Argo CD does:

* ``resource.customizations.health.<group>_<kind>`` whose value is the script
  (core-group kinds have no group: ``resource.customizations.health.Pod``);
* the older ``resource.customizations`` key, a YAML map of ``<group>/<kind>`` (or ``<kind>``) to
  ``{health.lua: <script>}``.

The split keys win over the older map for the same (group, kind). Group and kind may be glob
patterns (``*.crossplane.io/*`` in the older map). ``health.lua.useOpenLibs`` is read but never opens
``os``/``io``: the sandbox is the same for every script.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

import yaml

from .manifest import load_yaml

HEALTH_KEY_PREFIX = "resource.customizations.health."
LEGACY_KEY = "resource.customizations"


@dataclass(frozen=True, slots=True)
class LuaHealthOverride:
    group: str
    kind: str
    script: str
    use_open_libs: bool = False


def _split_group_kind(text: str, sep: str) -> tuple[str, str]:
    group, found, kind = text.rpartition(sep)
    return (group, kind) if found else ("", text)


def _matches(pattern: str, value: str) -> bool:
    return pattern == value or fnmatchcase(value, pattern)


@dataclass(frozen=True)
class HealthOverrides:
    """The health overrides configured in one argocd-cm; immutable once built."""

    entries: tuple[LuaHealthOverride, ...] = ()
    errors: tuple[str, ...] = field(default=())

    @classmethod
    def from_argocd_cm(cls, data: Mapping[str, Any] | None) -> HealthOverrides:
        """Read overrides from argocd-cm ``data``; problems are collected in ``errors``, never raised."""
        if not data:
            return cls()
        entries: dict[tuple[str, str], LuaHealthOverride] = {}
        errors: list[str] = []
        legacy = data.get(LEGACY_KEY)
        if isinstance(legacy, str) and legacy.strip():
            try:
                parsed = load_yaml(legacy)
            except yaml.YAMLError as exc:
                parsed = None
                errors.append(f"{LEGACY_KEY}: invalid YAML: {exc}")
            if isinstance(parsed, Mapping):
                for key, value in parsed.items():
                    script = value.get("health.lua") if isinstance(value, Mapping) else None
                    if isinstance(script, str) and script.strip():
                        group, kind = _split_group_kind(str(key), "/")
                        open_libs = bool(value.get("health.lua.useOpenLibs", False))
                        entries[(group, kind)] = LuaHealthOverride(group, kind, script, open_libs)
            elif parsed is not None:
                errors.append(f"{LEGACY_KEY}: expected a map of group/kind to customizations")
        for key, value in data.items():
            if not key.startswith(HEALTH_KEY_PREFIX):
                continue
            if not isinstance(value, str) or not value.strip():
                continue
            group, kind = _split_group_kind(key[len(HEALTH_KEY_PREFIX) :], "_")
            entries[(group, kind)] = LuaHealthOverride(group, kind, value)
        return cls(entries=tuple(entries.values()), errors=tuple(errors))

    def lookup(self, group: str, kind: str) -> LuaHealthOverride | None:
        """The override for (group, kind): an exact entry first, then the first matching pattern."""
        for entry in self.entries:
            if entry.group == group and entry.kind == kind:
                return entry
        for entry in self.entries:
            if _matches(entry.group, group) and _matches(entry.kind, kind):
                return entry
        return None

    def __bool__(self) -> bool:
        return bool(self.entries)
