"""Field paths: the segments a diff, an ignore rule or a managedFields set points at.

A :data:`FieldPath` is a tuple of segments:

* ``str``: a map key (``spec``, ``replicas``, ``app.kubernetes.io/name``);
* ``int``: a list index (atomic lists, JSON pointers, ``i:`` managedFields keys);
* :class:`ItemKey`: the list item whose fields equal the given values, as in strategic merge
  (``containers[name=web]``, managedFields ``k:{"containerPort":80,"protocol":"TCP"}``);
* :class:`ItemValue`: the list item equal to a scalar (managedFields ``v:"foo"`` in set lists).

A *concrete* path uses only ``str`` and ``int`` segments; :func:`resolve` turns a path into the
concrete path of one object. The text form (:func:`format_path`) is dotted:
``spec.template.spec.containers[name=web].image``, ``metadata.annotations["example.com/x"]``,
``spec.args[0]``, ``spec.finalizers[="kubernetes"]``.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "ConcretePath",
    "FieldPath",
    "ItemKey",
    "ItemValue",
    "Segment",
    "delete_at",
    "format_path",
    "get_at",
    "is_empty",
    "merge_key",
    "parse_json_pointer",
    "plain_copy",
    "resolve",
    "set_at",
    "to_semantic",
]


@dataclass(frozen=True, slots=True)
class ItemKey:
    """A list item selected by the values of its key fields (strategic-merge style)."""

    fields: tuple[tuple[str, Any], ...]

    @classmethod
    def of(cls, **fields: Any) -> ItemKey:
        return cls(tuple(sorted(fields.items())))

    def matches(self, item: Any) -> bool:
        return isinstance(item, Mapping) and all(
            k in item and _same_scalar(item[k], v) for k, v in self.fields
        )


@dataclass(frozen=True, slots=True)
class ItemValue:
    """A list item equal to a scalar value (sets of scalars, e.g. ``finalizers``)."""

    value: Any

    def matches(self, item: Any) -> bool:
        return _same_scalar(item, self.value)


Segment = str | int | ItemKey | ItemValue
FieldPath = tuple[Segment, ...]
ConcretePath = tuple[str | int, ...]

_PLAIN = re.compile(r"[A-Za-z_$][A-Za-z0-9_$-]*")
_PLAIN_VALUE = re.compile(r"[A-Za-z0-9_.:/-]+")


def _same_scalar(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    return bool(a == b)


def _fmt_value(value: Any) -> str:
    if (
        isinstance(value, str)
        and _PLAIN_VALUE.fullmatch(value)
        and value not in ("true", "false", "null")
        and not value.lstrip("-").replace(".", "", 1).isdigit()
    ):
        return value
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def format_path(path: Sequence[Segment]) -> str:
    """The dotted text form of a path (``""`` is the whole object)."""
    out: list[str] = []
    for seg in path:
        if isinstance(seg, ItemKey):
            out.append("[" + ",".join(f"{k}={_fmt_value(v)}" for k, v in seg.fields) + "]")
        elif isinstance(seg, ItemValue):
            out.append(f"[={json.dumps(seg.value)}]")
        elif isinstance(seg, int):
            out.append(f"[{seg}]")
        elif _PLAIN.fullmatch(seg):
            out.append(f".{seg}" if out else seg)
        else:
            out.append(f"[{json.dumps(seg)}]")
    return "".join(out)


def parse_json_pointer(pointer: str) -> ConcretePath:
    """Split an RFC 6901 pointer (``/spec/template/metadata/annotations/a~1b``) into segments.

    Digit-only segments stay strings here; :func:`resolve` treats them as indexes on lists.
    """
    if pointer == "":
        return ()
    if not pointer.startswith("/"):
        raise ValueError(f"invalid JSON pointer {pointer!r}: it must start with '/' (e.g. /spec/replicas)")
    return tuple(part.replace("~1", "/").replace("~0", "~") for part in pointer[1:].split("/"))


def _list_index(seq: Sequence[Any], seg: Segment) -> int | None:
    if isinstance(seg, int) and not isinstance(seg, bool):
        return seg if 0 <= seg < len(seq) else None
    if isinstance(seg, str):
        return int(seg) if seg.isdigit() and int(seg) < len(seq) else None
    if isinstance(seg, bool):
        return None
    for i, item in enumerate(seq):
        if seg.matches(item):
            return i
    return None


def resolve(obj: Any, path: Sequence[Segment]) -> ConcretePath | None:
    """The concrete path of ``path`` in ``obj``, or ``None`` when it does not exist.

    The last map key may be missing (a field that could be set); list items must exist.
    """
    out: list[str | int] = []
    node: Any = obj
    for i, seg in enumerate(path):
        if isinstance(node, Mapping):
            if not isinstance(seg, str):
                return None
            out.append(seg)
            if seg not in node:
                return tuple(out) if i == len(path) - 1 else None
            node = node[seg]
        elif isinstance(node, list):
            idx = _list_index(node, seg)
            if idx is None:
                return None
            out.append(idx)
            node = node[idx]
        else:
            return None
    return tuple(out)


_MISSING = object()


def get_at(obj: Any, path: Sequence[str | int], default: Any = None) -> Any:
    node: Any = obj
    for seg in path:
        if isinstance(node, Mapping) and isinstance(seg, str) and seg in node:
            node = node[seg]
            continue
        if isinstance(node, list) and isinstance(seg, int) and 0 <= seg < len(node):
            node = node[seg]
            continue
        return default
    return node


def delete_at(obj: Any, path: Sequence[str | int]) -> bool:
    """Delete the field or list item at a concrete path in place; ``False`` when absent."""
    if not path:
        return False
    parent = get_at(obj, path[:-1], _MISSING)
    last = path[-1]
    if isinstance(parent, dict) and isinstance(last, str) and last in parent:
        del parent[last]
        return True
    if isinstance(parent, list) and isinstance(last, int) and 0 <= last < len(parent):
        del parent[last]
        return True
    return False


def set_at(obj: Any, path: Sequence[Segment], value: Any) -> bool:
    """Set a value in place, creating missing maps; list items must already exist."""
    if not path:
        return False
    node: Any = obj
    for seg in path[:-1]:
        if isinstance(node, dict) and isinstance(seg, str):
            if not isinstance(node.get(seg), (dict, list)):
                node[seg] = {}
            node = node[seg]
        elif isinstance(node, list):
            idx = _list_index(node, seg)
            if idx is None:
                return False
            node = node[idx]
        else:
            return False
    last = path[-1]
    if isinstance(node, dict) and isinstance(last, str):
        node[last] = value
        return True
    if isinstance(node, list):
        idx = _list_index(node, last)
        if idx is None:
            return False
        node[idx] = value
        return True
    return False


def plain_copy(value: Any) -> Any:
    """A deep copy of decoded JSON/YAML data (dicts, lists, scalars), several times faster than
    ``copy.deepcopy``. Other mappings become dicts; other objects (immutable scalars) are shared."""
    kind = type(value)
    # Strings, the most common leaves, are shared without a call.
    if kind is dict:
        return {k: v if type(v) is str else plain_copy(v) for k, v in value.items()}
    if kind is list:
        return [v if type(v) is str else plain_copy(v) for v in value]
    if kind is str or kind is int or kind is bool or kind is float or value is None:
        return value
    if isinstance(value, Mapping):
        return {k: plain_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain_copy(v) for v in value]
    return copy.deepcopy(value)


def is_empty(value: Any) -> bool:
    """``None``, ``{}`` and ``[]`` all mean "not set" when comparing."""
    return value is None or (isinstance(value, (dict, list)) and not value)


# Merge keys tried for a list field, in order (default: ``name``). A key is used only when every
# item of every list compared is a map with a scalar value for it, unique within each list.
KEY_CANDIDATES: dict[str, tuple[str, ...]] = {
    "ports": ("name", "containerPort", "port"),
    "volumeMounts": ("mountPath",),
    "volumeDevices": ("devicePath",),
    "hostAliases": ("ip",),
    "conditions": ("type",),
    "topologySpreadConstraints": ("topologyKey",),
}


def merge_key(field: str | None, lists: Iterable[Any]) -> str | None:
    """The key that identifies items of a list field, or ``None`` for an atomic list."""
    seqs = [seq for seq in lists if isinstance(seq, list)]
    if not any(seqs):
        return None
    for key in KEY_CANDIDATES.get(field or "", ("name",)):
        ok = True
        for seq in seqs:
            seen: set[Any] = set()
            for item in seq:
                if not isinstance(item, Mapping) or not isinstance(item.get(key), (str, int)):
                    ok = False
                    break
                if item[key] in seen:
                    ok = False
                    break
                seen.add(item[key])
            if not ok:
                break
        if ok:
            return key
    return None


def to_semantic(obj: Any, path: Sequence[str | int]) -> FieldPath:
    """Replace list indexes of a concrete path by item keys where the list has a merge key."""
    out: list[Segment] = []
    node: Any = obj
    field: str | None = None
    for seg in path:
        if isinstance(node, list) and isinstance(seg, int):
            key = merge_key(field, [node])
            item = node[seg] if 0 <= seg < len(node) else None
            out.append(ItemKey(((key, item[key]),)) if key and isinstance(item, Mapping) else seg)
            node = item
        else:
            out.append(seg)
            node = node.get(seg) if isinstance(node, Mapping) and isinstance(seg, str) else None
            field = seg if isinstance(seg, str) else field
    return tuple(out)
