"""Helpers shared by the route modules: Kubernetes Events naming the actor, field selection,
label selectors and pagination."""

from __future__ import annotations

import base64
import binascii
import logging
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from argosy.api.context import ApiContext, Caller
from argosy.api.errors import bad_request
from argosy.model.application import format_time

__all__ = ["app_event", "match_selector", "page", "select_fields", "strip_object"]

log = logging.getLogger(__name__)
APP_API = "argoproj.io/v1alpha1"


async def app_event(
    ctx: ApiContext, app: Mapping[str, Any], caller: Caller, reason: str, message: str
) -> None:
    """A Kubernetes Event on the Application naming the actor (Argo CD's audit trail). Best effort."""
    meta = app.get("metadata") or {}
    now = format_time(ctx.now())
    name = str(meta.get("name") or "")
    event = {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": f"{name}.{uuid.uuid4().hex[:16]}", "namespace": ctx.deps.namespace},
        "involvedObject": {
            "apiVersion": APP_API,
            "kind": "Application",
            "name": name,
            "namespace": ctx.deps.namespace,
            "uid": meta.get("uid", ""),
            "resourceVersion": meta.get("resourceVersion", ""),
        },
        "reason": reason,
        "message": f"{caller.subject} {message}",
        "type": "Normal",
        "source": {"component": "argosy-server"},
        "firstTimestamp": now,
        "lastTimestamp": now,
        "count": 1,
        "reportingComponent": "argosy-server",
    }
    try:
        await ctx.deps.kube.create(event)
    except Exception as exc:  # an Event is a courtesy; the audit log is the record
        log.warning("could not record an Event on Application %s: %s", name, type(exc).__name__)


def strip_object(obj: Mapping[str, Any]) -> dict[str, Any]:
    """Drop managedFields and kubectl's last-applied copy (large and redundant in API answers)."""
    out = dict(obj)
    meta = dict(out.get("metadata") or {})
    meta.pop("managedFields", None)
    annotations = meta.get("annotations")
    if isinstance(annotations, Mapping) and "kubectl.kubernetes.io/last-applied-configuration" in annotations:
        meta["annotations"] = {
            k: v for k, v in annotations.items() if k != "kubectl.kubernetes.io/last-applied-configuration"
        }
    out["metadata"] = meta
    return out


def _parse_requirement(text: str) -> tuple[str, str, tuple[str, ...]]:
    text = text.strip()
    for op in ("!=", "=="):
        if op in text:
            key, _, value = text.partition(op)
            return key.strip(), op, (value.strip(),)
    if " notin " in text or " in " in text:
        op = "notin" if " notin " in text else "in"
        key, _, rest = text.partition(f" {op} ")
        rest = rest.strip()
        if not (rest.startswith("(") and rest.endswith(")")):
            raise bad_request(f"invalid selector requirement {text!r}")
        return key.strip(), op, tuple(v.strip() for v in rest[1:-1].split(",") if v.strip())
    if "=" in text:
        key, _, value = text.partition("=")
        return key.strip(), "==", (value.strip(),)
    if text.startswith("!"):
        return text[1:].strip(), "!exists", ()
    return text, "exists", ()


def _split_selector(selector: str) -> list[str]:
    parts: list[str] = []
    depth = 0
    current = ""
    for ch in selector:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += ch
    parts.append(current)
    return [p for p in parts if p.strip()]


def parse_selector(selector: str) -> list[tuple[str, str, tuple[str, ...]]]:
    reqs = [_parse_requirement(p) for p in _split_selector(selector)]
    for key, _, _ in reqs:
        if not key:
            raise bad_request("invalid label selector: empty key")
    return reqs


def match_selector(labels: Mapping[str, str], reqs: Sequence[tuple[str, str, tuple[str, ...]]]) -> bool:
    for key, op, values in reqs:
        present = key in labels
        value = labels.get(key)
        if op == "exists" and not present:
            return False
        if op == "!exists" and present:
            return False
        if op == "==" and value != values[0]:
            return False
        if op == "!=" and value == values[0]:
            return False
        if op == "in" and value not in values:
            return False
        if op == "notin" and value in values:
            return False
    return True


def page(items: list[Any], limit: int | None, token: str | None) -> tuple[list[Any], str]:
    """Offset pagination: ``continue`` is an opaque token; an empty next token means the last page."""
    start = 0
    if token:
        try:
            start = int(base64.urlsafe_b64decode(token.encode("ascii") + b"==").decode("ascii"))
        except (ValueError, binascii.Error, UnicodeError) as exc:
            raise bad_request("invalid continue token") from exc
        if start < 0:
            raise bad_request("invalid continue token")
    if not limit or limit <= 0:
        return items[start:], ""
    end = start + limit
    nxt = (
        base64.urlsafe_b64encode(str(end).encode("ascii")).decode("ascii").rstrip("=")
        if end < len(items)
        else ""
    )
    return items[start:end], nxt


def _select(value: Any, path: Sequence[str]) -> Any:
    if not path:
        return value
    if isinstance(value, list):
        return [_select(v, path) for v in value]
    if isinstance(value, Mapping) and path[0] in value:
        return {path[0]: _select(value[path[0]], path[1:])}
    return _MISSING


_MISSING: Any = object()


def _merge(a: Any, b: Any) -> Any:
    if a is _MISSING:
        return b
    if b is _MISSING:
        return a
    if isinstance(a, dict) and isinstance(b, dict):
        out = dict(a)
        for k, v in b.items():
            out[k] = _merge(out[k], v) if k in out else v
        return out
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [_merge(x, y) for x, y in zip(a, b, strict=True)]
    return b


def _prune_missing(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _prune_missing(v) for k, v in value.items() if v is not _MISSING}
    if isinstance(value, list):
        return [_prune_missing(v) for v in value if v is not _MISSING]
    return value


def select_fields(doc: Mapping[str, Any], fields: str) -> dict[str, Any]:
    """Keep only the dotted paths in ``fields`` (comma separated), e.g. ``items.metadata.name``,
    as Argo CD's UI asks with ``?fields=``. Lists are traversed element by element."""
    result: Any = _MISSING
    for raw in fields.split(","):
        path = [p for p in raw.strip().split(".") if p]
        if not path:
            continue
        result = _merge(result, _select(doc, path))
    if result is _MISSING or not isinstance(result, dict):
        return {}
    pruned: dict[str, Any] = _prune_missing(result)
    return pruned
