"""Three-way prediction of the live object after an apply (client-side apply semantics).

``predict_live(desired, live, last_applied)`` starts from ``live`` and:

* sets every field the desired object mentions (maps merge recursively; a ``null`` deletes);
* deletes fields that ``last_applied`` had but ``desired`` no longer has (we owned them);
* keeps every other live field (server defaults, other controllers' fields);
* merges lists of maps by their merge key (``name``, ``containerPort``, ``mountPath``...; see
  :data:`argosy.core.diff.paths.KEY_CANDIDATES`) like a strategic merge: desired items in desired
  order, then live-only items that were not in ``last_applied``. Other lists are replaced whole.

With ``last_applied=None`` this is Argo CD's two-way diff: nothing is deleted.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from argosy.core.diff.paths import merge_key, plain_copy

__all__ = ["applies_no_change", "predict_live", "three_way_merge_patch"]


def predict_live(
    desired: Mapping[str, Any], live: Mapping[str, Any], last_applied: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The predicted live object (a new dict; the inputs are not modified)."""
    result = _merge(None, desired, live, last_applied)
    return result if isinstance(result, dict) else {}


def _merge(field: str | None, desired: Any, live: Any, last: Any) -> Any:
    if type(desired) is str:
        return desired
    if (type(desired) is dict or isinstance(desired, Mapping)) and (
        type(live) is dict or isinstance(live, Mapping)
    ):
        # Copy only what desired does not touch; the keys it sets are built by the merge below.
        out: dict[str, Any] = {k: v if k in desired else plain_copy(v) for k, v in live.items()}
        last_map = last if isinstance(last, Mapping) else {}
        for key, value in desired.items():
            if value is None:
                out.pop(key, None)
            else:
                out[key] = _merge(key, value, live.get(key), last_map.get(key))
        for key in last_map:
            if key not in desired:
                out.pop(key, None)
        return out
    if isinstance(desired, list) and isinstance(live, list):
        last_list = last if isinstance(last, list) else []
        key = merge_key(field, [desired, live, last_list])
        if key is None:
            return plain_copy(desired)
        live_by = {item[key]: item for item in live}
        last_keys = {item[key] for item in last_list}
        last_by = {item[key]: item for item in last_list}
        desired_keys = {item[key] for item in desired}
        merged = [_merge(None, item, live_by.get(item[key]), last_by.get(item[key])) for item in desired]
        merged += [
            plain_copy(item) for item in live if item[key] not in desired_keys and item[key] not in last_keys
        ]
        return merged
    return plain_copy(desired)


def three_way_merge_patch(
    last_applied: Mapping[str, Any] | None, desired: Mapping[str, Any], live: Mapping[str, Any]
) -> dict[str, Any]:
    """A JSON merge patch (RFC 7386) that client-side applies ``desired`` over ``live``.

    Like ``kubectl apply`` without ``--server-side``: every field ``desired`` sets to a value that
    differs from live is set; fields that ``last_applied`` had and ``desired`` no longer has are
    deleted (``null``), when live still has them; every other live field is kept. Maps are
    patched recursively; lists are sent whole when they differ (merge-patch semantics: no
    per-item merge). ``last_applied=None`` deletes nothing (the object was not client-side
    applied before). An empty dict means nothing to change.
    """
    return _patch(last_applied if isinstance(last_applied, Mapping) else {}, desired, live)


def _patch(last: Mapping[str, Any], desired: Mapping[str, Any], live: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in desired.items():
        current = live.get(key)
        if value is None:
            if key in live:
                out[key] = None
            continue
        if isinstance(value, Mapping) and isinstance(current, Mapping):
            previous = last.get(key)
            sub = _patch(previous if isinstance(previous, Mapping) else {}, value, current)
            if sub:
                out[key] = sub
        elif key not in live or value != current or type(value) is not type(current):
            out[key] = plain_copy(value)
    for key in last:
        if key not in desired and key in live:
            out[key] = None
    return out


def applies_no_change(
    desired: Mapping[str, Any], live: Mapping[str, Any], last_applied: Mapping[str, Any] | None = None
) -> bool:
    """A conservative shortcut for :func:`predict_live`: True only when the prediction is
    exactly ``live``, i.e. every field ``desired`` sets already has that value in live (same
    type; lists equal as a whole) and no field ``last_applied`` had and ``desired`` dropped is
    still live. False means "compute the prediction" (it may still turn out unchanged)."""
    return _same(desired, live, last_applied if isinstance(last_applied, Mapping) else {})


def _same(desired: Mapping[str, Any], live: Mapping[str, Any], last: Mapping[str, Any]) -> bool:
    for key, value in desired.items():
        if value is None:
            if key in live:
                return False
            continue
        if key not in live:
            return False
        current = live[key]
        if type(value) is dict and type(current) is dict:
            previous = last.get(key)
            if not _same(value, current, previous if type(previous) is dict else {}):
                return False
        elif type(value) is not type(current) or value != current:
            return False
    return all(key in desired or key not in live for key in last)
