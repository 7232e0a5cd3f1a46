"""managedFields: decode ``fieldsV1`` sets into paths and attribute changed fields to managers.

``fieldsV1`` is a trie: ``f:<name>`` is a map field, ``k:<json>`` a list item by key fields,
``v:<json>`` a set item by value, ``i:<n>`` a list item by index, and ``.`` the node itself.
An empty ``{}`` child is a leaf the manager owns. :func:`decode_fields_v1` returns the owned leaf
paths and the owned nodes (``.``) separately.

Attribution (:func:`attribute`) for a changed path, resolved in the live object, looks for, in order:

1. managers owning exactly that path (leaf or ``.``);
2. a manager owning an ancestor leaf (an atomic map or list written as a whole, e.g. ``f:args: {}``);
3. managers owning fields below the path (the change replaces a whole subtree);
4. a manager owning an ancestor node (``.``).

A list item that live does not have (added by the desired state) resolves to its list, and only
steps 1, 2 and 4 apply to it.

Among several candidates at one step the most recent ``time`` wins (RFC 3339 text compares in
order); a tie goes to the later entry.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from argosy.core.diff.paths import ConcretePath, FieldPath, ItemKey, ItemValue, Segment, resolve

__all__ = [
    "DecodedFields",
    "FieldManager",
    "ManagedFieldsEntry",
    "ManagedFieldsError",
    "applied_configuration",
    "attribute",
    "attribute_all",
    "decode_fields_v1",
    "managed_fields",
]


class ManagedFieldsError(ValueError):
    """A ``fieldsV1`` key that is not ``f:``, ``k:``, ``v:``, ``i:`` or ``.``."""


@dataclass(frozen=True, slots=True)
class DecodedFields:
    leaves: frozenset[FieldPath]
    nodes: frozenset[FieldPath]


@dataclass(frozen=True, slots=True)
class FieldManager:
    """Who last wrote a field: the managedFields entry's manager, operation and time."""

    manager: str
    operation: str
    time: str | None = None
    subresource: str | None = None
    api_version: str | None = None


@dataclass(frozen=True, slots=True)
class ManagedFieldsEntry:
    owner: FieldManager
    fields: DecodedFields


def _decode_key(key: str) -> Segment:
    if key.startswith("f:"):
        return key[2:]
    try:
        if key.startswith("k:"):
            loaded = json.loads(key[2:])
            if not isinstance(loaded, dict):
                raise ManagedFieldsError(f"fieldsV1 key {key!r}: k: needs a JSON object")
            return ItemKey(tuple(sorted(loaded.items())))
        if key.startswith("v:"):
            return ItemValue(json.loads(key[2:]))
    except json.JSONDecodeError as exc:
        raise ManagedFieldsError(f"fieldsV1 key {key!r}: invalid JSON ({exc.msg})") from None
    if key.startswith("i:") and key[2:].isdigit():
        return int(key[2:])
    raise ManagedFieldsError(f"fieldsV1 key {key!r}: expected f:<name>, k:<json>, v:<json>, i:<n> or '.'")


def decode_fields_v1(fields: Mapping[str, Any]) -> DecodedFields:
    """Decode a ``fieldsV1`` trie into owned leaf paths and owned node paths."""
    leaves: set[FieldPath] = set()
    nodes: set[FieldPath] = set()
    stack: list[tuple[FieldPath, Mapping[str, Any]]] = [((), fields)]
    while stack:
        prefix, trie = stack.pop()
        for key, child in trie.items():
            if key == ".":
                nodes.add(prefix)
                continue
            path = (*prefix, _decode_key(key))
            if isinstance(child, Mapping) and child:
                stack.append((path, child))
            else:
                leaves.add(path)
    return DecodedFields(frozenset(leaves), frozenset(nodes))


def managed_fields(obj: Mapping[str, Any]) -> list[ManagedFieldsEntry]:
    """The decoded ``metadata.managedFields`` entries of an object (non-``FieldsV1`` ones skipped)."""
    metadata = obj.get("metadata")
    raw = metadata.get("managedFields") if isinstance(metadata, Mapping) else None
    out: list[ManagedFieldsEntry] = []
    for entry in raw if isinstance(raw, list) else []:
        if not isinstance(entry, Mapping) or entry.get("fieldsType", "FieldsV1") != "FieldsV1":
            continue
        trie = entry.get("fieldsV1")
        owner = FieldManager(
            manager=str(entry.get("manager") or ""),
            operation=str(entry.get("operation") or ""),
            time=str(entry["time"]) if entry.get("time") else None,
            subresource=str(entry["subresource"]) if entry.get("subresource") else None,
            api_version=str(entry["apiVersion"]) if entry.get("apiVersion") else None,
        )
        out.append(ManagedFieldsEntry(owner, decode_fields_v1(trie if isinstance(trie, Mapping) else {})))
    return out


def _resolve_prefix(obj: Any, path: Sequence[Segment]) -> ConcretePath:
    """The concrete form of the longest prefix of ``path`` that resolves in ``obj``."""
    for end in range(len(path), -1, -1):
        concrete = resolve(obj, path[:end])
        if concrete is not None:
            return concrete
    return ()


def _latest(candidates: list[tuple[int, FieldManager]]) -> FieldManager | None:
    if not candidates:
        return None
    return max(candidates, key=lambda c: (c[1].time or "", c[0]))[1]


_Owned = tuple[str, ConcretePath, int, FieldManager]


def _owned_paths(live: Mapping[str, Any], entries: Sequence[ManagedFieldsEntry]) -> list[_Owned]:
    out: list[_Owned] = []
    for order, entry in enumerate(entries):
        for kind, paths in (("leaf", entry.fields.leaves), ("node", entry.fields.nodes)):
            for owned in paths:
                concrete = resolve(live, owned)
                if concrete is not None:
                    out.append((kind, concrete, order, entry.owner))
    return out


def attribute(
    live: Mapping[str, Any],
    path: Sequence[Segment],
    entries: Sequence[ManagedFieldsEntry] | None = None,
) -> FieldManager | None:
    """The field manager that last wrote ``path`` in ``live`` (see the module docstring)."""
    return attribute_all(live, [path], entries)[0]


def attribute_all(
    live: Mapping[str, Any],
    paths: Sequence[Sequence[Segment]],
    entries: Sequence[ManagedFieldsEntry] | None = None,
) -> list[FieldManager | None]:
    """:func:`attribute` for many paths, resolving the managedFields once."""
    if entries is None:
        entries = managed_fields(live)
    owned = _owned_paths(live, entries) if entries else []
    return [_attribute_one(live, path, owned) if owned else None for path in paths]


def _attribute_one(
    live: Mapping[str, Any], path: Sequence[Segment], owned: list[_Owned]
) -> FieldManager | None:
    full = resolve(live, path)
    target = full if full is not None else _resolve_prefix(live, path)
    exact: list[tuple[int, FieldManager]] = []
    ancestor_leaf: list[tuple[int, int, FieldManager]] = []
    below: list[tuple[int, FieldManager]] = []
    ancestor_node: list[tuple[int, int, FieldManager]] = []
    n = len(target)
    for kind, concrete, order, owner in owned:
        if concrete == target:
            exact.append((order, owner))
        elif len(concrete) < n and target[: len(concrete)] == concrete:
            bucket = ancestor_leaf if kind == "leaf" else ancestor_node
            bucket.append((len(concrete), order, owner))
        elif len(concrete) > n and concrete[:n] == target:
            below.append((order, owner))
    if exact:
        return _latest(exact)
    if ancestor_leaf:
        depth = max(d for d, _, _ in ancestor_leaf)
        return _latest([(o, m) for d, o, m in ancestor_leaf if d == depth])
    if below and full is not None:
        return _latest(below)
    if ancestor_node:
        depth = max(d for d, _, _ in ancestor_node)
        return _latest([(o, m) for d, o, m in ancestor_node if d == depth])
    return None


def applied_configuration(live: Mapping[str, Any], manager: str) -> dict[str, Any] | None:
    """What ``manager`` last server-side applied, rebuilt from live's managedFields: the live
    values of the fields its ``Apply`` entry owns, minus fields another manager also owns (a
    server-side apply that drops a co-owned field leaves it in place). ``None`` when ``manager``
    has no Apply entry. Used as the three-way base for objects without a last-applied annotation,
    so that a field dropped from Git shows as a change (the next apply removes it)."""
    metadata = live.get("metadata")
    raw = metadata.get("managedFields") if isinstance(metadata, Mapping) else None
    ours: list[Mapping[str, Any]] = []
    theirs: list[Mapping[str, Any]] = []
    for entry in raw if isinstance(raw, list) else []:
        if not isinstance(entry, Mapping) or entry.get("fieldsType", "FieldsV1") != "FieldsV1":
            continue
        trie = entry.get("fieldsV1")
        if not isinstance(trie, Mapping):
            continue
        if (
            entry.get("manager") == manager
            and entry.get("operation") == "Apply"
            and not entry.get("subresource")
        ):
            ours.append(trie)
        else:
            theirs.append(trie)
    if not ours:
        return None
    owned: Mapping[str, Any] = ours[0]
    for other in theirs:
        owned = _subtract(owned, other)
    extracted = _extract(owned, live)
    return extracted if isinstance(extracted, dict) else {}


def _subtract(ours: Mapping[str, Any], theirs: Mapping[str, Any]) -> dict[str, Any]:
    """``ours`` without the leaves ``theirs`` also owns; a subtree that empties is dropped."""
    out: dict[str, Any] = {}
    for key, child in ours.items():
        if key not in theirs:
            out[key] = child
            continue
        other = theirs[key]
        if isinstance(child, Mapping) and child and isinstance(other, Mapping) and other:
            rest = _subtract(child, other)
            if any(k != "." for k in rest):
                out[key] = rest
        # a leaf (or node) the other manager owns too: not ours alone
    return out


def _extract(trie: Mapping[str, Any], value: Any) -> Any:
    """The parts of ``value`` that ``trie`` names (a leaf takes the whole value)."""
    if not trie or (len(trie) == 1 and "." in trie):
        return value
    if type(value) is dict or isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, child in trie.items():
            if key[:2] == "f:":
                name = key[2:]
                if name in value:
                    # A leaf ({}) takes the whole value: no call for the common case.
                    leaf = type(child) is not dict or not child
                    out[name] = value[name] if leaf else _extract(child, value[name])
        return out
    if isinstance(value, list):
        items: list[Any] = []
        for key, child in trie.items():
            if key == ".":
                continue
            try:
                segment = _decode_key(key)
            except ManagedFieldsError:
                continue
            if isinstance(segment, ItemKey):
                fields = dict(segment.fields)
                for item in value:
                    if isinstance(item, Mapping) and all(item.get(k) == v for k, v in fields.items()):
                        part = _extract(child if isinstance(child, Mapping) else {}, item)
                        items.append({**fields, **part} if isinstance(part, Mapping) else part)
                        break
            elif isinstance(segment, ItemValue) and segment.value in value:
                items.append(segment.value)
            elif isinstance(segment, int) and segment < len(value):
                items.append(_extract(child if isinstance(child, Mapping) else {}, value[segment]))
        return items
    return value
