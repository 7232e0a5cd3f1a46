"""ignoreDifferences: Argo CD's app-level and system-level rules, applied to diffs and to syncs.

A rule matches a resource by ``group`` (empty = the core group), ``kind``, and optionally
``name`` and ``namespace`` (empty = any); all four accept shell-style globs (``*``). It ignores
fields chosen by RFC 6901 ``jsonPointers``, ``jqPathExpressions`` (the subset in
:mod:`argosy.core.diff.jq`) and ``managedFieldsManagers`` (every field that one of those managers
owns in the live object's ``managedFields``).

* :func:`apply_ignore_rules` removes ignored fields from an object before comparing; each object
  is resolved on its own, so ``.containers[] | select(.name == "x")`` finds ``x`` wherever it is.
* :func:`respect_ignore_differences` is the ``RespectIgnoreDifferences=true`` sync option: it
  copies the live value of every ignored field into the desired object (and drops ignored fields
  that live does not have), so the apply leaves them alone. Without a live object the desired
  object is returned unchanged, as in Argo CD.
"""

from __future__ import annotations

import copy
import fnmatch
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from argosy.core.diff.jq import JqError, compile_jq
from argosy.core.diff.managedfields import ManagedFieldsError, managed_fields
from argosy.core.diff.paths import (
    ConcretePath,
    FieldPath,
    ItemKey,
    delete_at,
    get_at,
    parse_json_pointer,
    resolve,
    set_at,
    to_semantic,
)
from argosy.model.resources import ResourceKey

__all__ = [
    "SYSTEM_KEY_PREFIX",
    "IgnoreRule",
    "IgnoreRuleError",
    "apply_ignore_rules",
    "ignored_paths",
    "matching_rules",
    "parse_app_ignore_differences",
    "parse_system_ignore_differences",
    "respect_ignore_differences",
]

SYSTEM_KEY_PREFIX = "resource.customizations.ignoreDifferences."


class IgnoreRuleError(ValueError):
    """A malformed ignoreDifferences entry; the message says which entry and why."""


@dataclass(frozen=True, slots=True)
class IgnoreRule:
    group: str = ""
    kind: str = "*"
    name: str = ""
    namespace: str = ""
    json_pointers: tuple[str, ...] = ()
    jq_path_expressions: tuple[str, ...] = ()
    managed_fields_managers: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for pointer in self.json_pointers:
            try:
                parse_json_pointer(pointer)
            except ValueError as exc:
                raise IgnoreRuleError(f"ignoreDifferences {self.group}/{self.kind}: {exc}") from None
        for expression in self.jq_path_expressions:
            try:
                compile_jq(expression)
            except JqError as exc:
                raise IgnoreRuleError(f"ignoreDifferences {self.group}/{self.kind}: {exc}") from None

    def matches(self, key: ResourceKey) -> bool:
        return (
            fnmatch.fnmatchcase(key.group, self.group or "")
            and fnmatch.fnmatchcase(key.kind, self.kind or "*")
            and (not self.name or fnmatch.fnmatchcase(key.name, self.name))
            and (not self.namespace or fnmatch.fnmatchcase(key.namespace, self.namespace))
        )

    @classmethod
    def from_dict(cls, entry: Mapping[str, Any], *, where: str = "ignoreDifferences") -> IgnoreRule:
        """Build a rule from Argo CD's shape (camelCase keys)."""
        if not isinstance(entry, Mapping):
            raise IgnoreRuleError(f"{where}: expected a mapping, got {type(entry).__name__}")

        def strings(name: str) -> tuple[str, ...]:
            value = entry.get(name) or []
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise IgnoreRuleError(f"{where}: {name} must be a list of strings")
            return tuple(value)

        try:
            return cls(
                group=str(entry.get("group") or ""),
                kind=str(entry.get("kind") or "*"),
                name=str(entry.get("name") or ""),
                namespace=str(entry.get("namespace") or ""),
                json_pointers=strings("jsonPointers"),
                jq_path_expressions=strings("jqPathExpressions"),
                managed_fields_managers=strings("managedFieldsManagers"),
            )
        except IgnoreRuleError as exc:
            raise IgnoreRuleError(f"{where}: {exc}") from None


def parse_app_ignore_differences(entries: Any) -> tuple[IgnoreRule, ...]:
    """Rules from an Application's ``spec.ignoreDifferences`` list."""
    if entries is None:
        return ()
    if not isinstance(entries, list):
        raise IgnoreRuleError("spec.ignoreDifferences must be a list")
    return tuple(
        IgnoreRule.from_dict(entry, where=f"spec.ignoreDifferences[{i}]") for i, entry in enumerate(entries)
    )


def _system_group_kind(suffix: str) -> tuple[str, str]:
    if suffix == "all":
        return "*", "*"
    group, sep, kind = suffix.rpartition("_")
    return (group, kind) if sep else ("", suffix)


def parse_system_ignore_differences(cm_data: Mapping[str, str]) -> tuple[IgnoreRule, ...]:
    """Rules from argocd-cm data.

    Reads ``resource.customizations.ignoreDifferences.<group>_<kind>`` (``Kind`` or ``_Kind`` for
    the core group) and ``...ignoreDifferences.all``, each a YAML document with ``jsonPointers``,
    ``jqPathExpressions`` and ``managedFieldsManagers``; and the older single
    ``resource.customizations`` key (``<group>/<kind>: {ignoreDifferences: <yaml text>}``).
    """
    rules: list[IgnoreRule] = []
    for key in sorted(cm_data):
        if key.startswith(SYSTEM_KEY_PREFIX):
            group, kind = _system_group_kind(key[len(SYSTEM_KEY_PREFIX) :])
            rules.append(_system_rule(group, kind, cm_data[key], where=key))
    legacy = cm_data.get("resource.customizations")
    if legacy:
        loaded = _yaml(legacy, "resource.customizations")
        if not isinstance(loaded, Mapping):
            raise IgnoreRuleError("resource.customizations must be a YAML mapping")
        for gk, custom in loaded.items():
            if isinstance(custom, Mapping) and custom.get("ignoreDifferences"):
                group, _, kind = str(gk).rpartition("/")
                text = custom["ignoreDifferences"]
                where = f"resource.customizations {gk}"
                rules.append(
                    _system_rule(group, kind, text if isinstance(text, str) else yaml.safe_dump(text), where)
                )
    return tuple(rules)


def _yaml(text: str, where: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise IgnoreRuleError(f"{where}: invalid YAML ({exc})") from None


def _system_rule(group: str, kind: str, text: str, where: str) -> IgnoreRule:
    loaded = _yaml(text, where) or {}
    if not isinstance(loaded, Mapping):
        raise IgnoreRuleError(f"{where}: expected a YAML mapping with jsonPointers/jqPathExpressions")
    return IgnoreRule.from_dict({**loaded, "group": group, "kind": kind}, where=where)


def matching_rules(key: ResourceKey, rules: Iterable[IgnoreRule]) -> tuple[IgnoreRule, ...]:
    return tuple(rule for rule in rules if rule.matches(key))


def _managed_paths(live: Mapping[str, Any] | None, managers: Sequence[str]) -> list[FieldPath]:
    """Leaf paths owned by ``managers`` in live, minus the key fields of keyed list items."""
    if not live or not managers:
        return []
    wanted = set(managers)
    try:
        entries = managed_fields(live)
    except ManagedFieldsError:
        return []
    out: list[FieldPath] = []
    for entry in entries:
        if entry.owner.manager not in wanted:
            continue
        for path in entry.fields.leaves:
            if len(path) >= 2 and isinstance(path[-2], ItemKey) and path[-1] in dict(path[-2].fields):
                continue
            out.append(path)
    return sorted(out, key=repr)


def ignored_paths(
    obj: Mapping[str, Any], rules: Iterable[IgnoreRule], live: Mapping[str, Any] | None = None
) -> list[ConcretePath]:
    """Concrete paths in ``obj`` that the rules ignore (``live`` supplies managedFields)."""
    found: dict[ConcretePath, None] = {}
    for rule in rules:
        for pointer in rule.json_pointers:
            concrete = resolve(obj, parse_json_pointer(pointer))
            if concrete is not None and get_at(obj, concrete, _ABSENT) is not _ABSENT:
                found.setdefault(concrete, None)
        for expression in rule.jq_path_expressions:
            for path in compile_jq(expression).paths(obj):
                found.setdefault(path, None)
        for owned in _managed_paths(live, rule.managed_fields_managers):
            concrete = resolve(obj, owned)
            if concrete is not None and get_at(obj, concrete, _ABSENT) is not _ABSENT:
                found.setdefault(concrete, None)
    return list(found)


_ABSENT = object()


def _delete_all(obj: Any, paths: Iterable[ConcretePath]) -> None:
    # Deepest and highest list index first, so earlier deletions do not shift later ones.
    def order(path: ConcretePath) -> tuple[Any, ...]:
        return tuple((0, s) if isinstance(s, int) else (1, s) for s in path)

    for path in sorted(set(paths), key=order, reverse=True):
        if path:
            delete_at(obj, path)


def apply_ignore_rules(
    obj: Mapping[str, Any], rules: Iterable[IgnoreRule], live: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """A deep copy of ``obj`` without the ignored fields."""
    rules = tuple(rules)
    out: dict[str, Any] = copy.deepcopy(dict(obj))
    _delete_all(out, ignored_paths(out, rules, live))
    return out


def respect_ignore_differences(
    desired: Mapping[str, Any], live: Mapping[str, Any] | None, rules: Iterable[IgnoreRule]
) -> dict[str, Any]:
    """The desired object with every ignored field set to its live value (RespectIgnoreDifferences)."""
    out: dict[str, Any] = copy.deepcopy(dict(desired))
    if live is None:
        return out
    key = ResourceKey.from_manifest(live)
    rules = matching_rules(key, rules)
    if not rules:
        return out
    live_paths = ignored_paths(live, rules, live)
    missing_in_live: list[ConcretePath] = []
    for path in ignored_paths(out, rules, live):
        semantic = to_semantic(out, path)
        live_concrete = resolve(live, semantic)
        if live_concrete is None or get_at(live, live_concrete, _ABSENT) is _ABSENT:
            missing_in_live.append(path)
    _delete_all(out, missing_in_live)
    for path in live_paths:
        semantic = to_semantic(live, path)
        set_at(out, semantic, copy.deepcopy(get_at(live, path)))
    return out
