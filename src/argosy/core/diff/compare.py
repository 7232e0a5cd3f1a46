"""Field-by-field comparison of two normalized objects.

Equivalences (Argo CD gets these from scheme defaulting; we apply the cheap ones here):

* ``None``, ``{}``, ``[]`` and a missing field are the same;
* quantities compare by value under ``resources.limits``/``requests`` and similar maps
  (``500m`` == ``0.5``, ``1Gi`` == ``1024Mi``);
* a field whose name ends in ``port``/``Port`` compares ``80`` == ``"80"``;
* ``True`` is never equal to ``1``.

Lists with a merge key are matched by key (order-insensitive, paths like ``containers[name=web]``);
other lists compare by index, and a length change reports the whole list.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from argosy.core.diff.paths import FieldPath, ItemKey, is_empty, merge_key
from argosy.core.diff.quantity import parse_quantity

__all__ = ["QUANTITY_MAPS", "RawChange", "compare", "equivalent"]

QUANTITY_MAPS = frozenset(
    {
        "limits",
        "requests",
        "hard",
        "capacity",
        "allocatable",
        "overhead",
        "max",
        "min",
        "default",
        "defaultRequest",
        "maxLimitRequestRatio",
    }
)
_QUANTITY_FIELDS = frozenset({"sizeLimit", "storage"})


@dataclass(frozen=True, slots=True)
class RawChange:
    """A difference before masking and attribution: ``None`` means the field is absent."""

    path: FieldPath
    before: Any
    after: Any


def _last_str(path: FieldPath, offset: int) -> str | None:
    if len(path) >= offset:
        seg = path[-offset]
        return seg if isinstance(seg, str) else None
    return None


def equivalent(path: FieldPath, a: Any, b: Any) -> bool:
    """Whether two scalar (or opaque) values at ``path`` are the same."""
    if is_empty(a) and is_empty(b):
        return True
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    same_type = type(a) is type(b) or (isinstance(a, (int, float)) and isinstance(b, (int, float)))
    if same_type and a == b:
        return True
    name = _last_str(path, 1)
    parent = _last_str(path, 2)
    if parent in QUANTITY_MAPS or name in _QUANTITY_FIELDS:
        qa, qb = parse_quantity(a), parse_quantity(b)
        if qa is not None and qb is not None:
            return qa == qb
    if name and name.lower().endswith("port"):
        if isinstance(a, int) and isinstance(b, str):
            return b.strip().isdigit() and int(b) == a
        if isinstance(b, int) and isinstance(a, str):
            return a.strip().isdigit() and int(a) == b
    return False


def compare(before: Any, after: Any, path: FieldPath = ()) -> list[RawChange]:
    """The leaf-level differences from ``before`` (live) to ``after`` (predicted live)."""
    out: list[RawChange] = []
    _walk(path, before, after, out)
    return out


def _is_map(value: Any) -> bool:
    return type(value) is dict or isinstance(value, Mapping)


def _walk(path: FieldPath, a: Any, b: Any, out: list[RawChange]) -> None:
    if type(a) is str and type(b) is str:  # the common leaf: no other equivalence applies
        if a != b and not equivalent(path, a, b):
            out.append(RawChange(path, _none(a), _none(b)))
        return
    if is_empty(a) and is_empty(b):
        return
    if _is_map(a) and _is_map(b):
        for key in sorted(set(a) | set(b), key=str):
            _walk((*path, key), a.get(key), b.get(key), out)
        return
    if isinstance(a, list) and isinstance(b, list):
        field = _last_str(path, 1)
        key = merge_key(field, [a, b])
        if key is not None:
            a_by = {item[key]: item for item in a}
            b_by = {item[key]: item for item in b}
            order = [item[key] for item in b] + [item[key] for item in a if item[key] not in b_by]
            for k in order:
                _walk((*path, ItemKey(((key, k),))), a_by.get(k), b_by.get(k), out)
            return
        if len(a) == len(b):
            for i, (x, y) in enumerate(zip(a, b, strict=True)):
                _walk((*path, i), x, y, out)
            return
        out.append(RawChange(path, _none(a), _none(b)))
        return
    if not equivalent(path, a, b):
        out.append(RawChange(path, _none(a), _none(b)))


def _none(value: Any) -> Any:
    return None if is_empty(value) else value
