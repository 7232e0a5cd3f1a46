"""An informer-style cache of the Application CRs for the API's list and get routes.

One task lists the Applications and then watches them (resuming from the last resourceVersion,
relisting on 410 Gone, backing off on errors). Each entry keeps the stripped object and its JSON
bytes, computed once per change, so ``GET /api/v1/applications`` joins ready-made bytes instead of
serialising 5,000 objects per request. The API's own writes are put into the cache at once
(read-your-writes); a newer resourceVersion from the watch replaces them.

Until the first list completes, :attr:`synced` is False and the routes read the apiserver directly.

:class:`GzipSegments` gzips list answers without compressing 5,000 objects per request: the items
are compressed in groups of consecutive entries, each an independent raw-deflate segment ending on
a byte boundary (``Z_SYNC_FLUSH``), cached by the group's names and resourceVersions. Such
segments concatenate into one valid deflate stream (none refers back into another), so an answer
is a gzip header, the segments, an empty final block and the CRC-32 and length of the whole body.
Deflate's window is 32 KB, so groups of 128 items (about 200 KB) lose almost nothing against
compressing the body at once; a changed app costs one group's compression.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import struct
import zlib
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from argosy.api.common import APP_API, select_fields, strip_object
from argosy.ports.apiserver import ApiKube

__all__ = ["AppCache", "CachedApp", "GzipSegments"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CachedApp:
    name: str
    project: str
    labels: Mapping[str, str]
    resource_version: int
    obj: dict[str, Any]
    raw: bytes  # compact JSON of ``obj``
    # ``fields`` projections of ``obj`` (compact JSON, None: the item has none of the paths), by the
    # item paths asked for; a few kept per entry, as clients use one or two ``fields`` lists.
    views: dict[str, bytes | None] = field(default_factory=dict, compare=False, repr=False)

    MAX_VIEWS = 4

    def view(self, item_paths: Sequence[str]) -> bytes | None:
        """The JSON of ``obj`` reduced to ``item_paths`` (dotted, relative to the item), as
        :func:`~argosy.api.common.select_fields` reduces an item of a list; None when it has none."""
        key = ",".join(item_paths)
        if key in self.views:
            return self.views[key]
        if any(not p for p in item_paths):  # "items" itself: the whole object
            found: bytes | None = self.raw
        else:
            selected = select_fields(self.obj, key)
            found = _json(selected) if selected else None
        if len(self.views) >= self.MAX_VIEWS:
            self.views.pop(next(iter(self.views)))
        self.views[key] = found
        return found


def _json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _rv(obj: Mapping[str, Any]) -> int:
    try:
        return int((obj.get("metadata") or {}).get("resourceVersion") or 0)
    except (TypeError, ValueError):
        return 0


def entry(obj: Mapping[str, Any]) -> CachedApp:
    stripped = strip_object(obj)
    meta = stripped.get("metadata") or {}
    return CachedApp(
        name=str(meta.get("name") or ""),
        project=str((stripped.get("spec") or {}).get("project") or "default"),
        labels=dict(meta.get("labels") or {}),
        resource_version=_rv(stripped),
        obj=stripped,
        raw=_json(stripped),
    )


GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"  # deflate, no name, no mtime, OS unknown
FINAL_BLOCK = b"\x03\x00"  # an empty final block with fixed codes
Piece = tuple[str, int, bytes]  # name, resourceVersion, the item's JSON in this answer
_Key = tuple[str, bool, tuple[tuple[str, int, int], ...]]


class GzipSegments:
    """Gzip bodies ``head + items joined by "," + tail`` from cached per-group deflate segments."""

    GROUP = 128

    def __init__(self, level: int = 3, *, budget: int = 32 << 20) -> None:
        self.level = level
        self._budget = budget  # compressed bytes kept
        self._held = 0
        self._segments: OrderedDict[_Key, bytes] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def _deflate(self, data: bytes) -> bytes:
        compressor = zlib.compressobj(self.level, zlib.DEFLATED, -zlib.MAX_WBITS)
        return compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH)

    def _segment(self, variant: str, first: bool, group: Sequence[Piece]) -> bytes:
        key: _Key = (variant, first, tuple((name, rv, len(raw)) for name, rv, raw in group))
        found = self._segments.get(key)
        if found is not None:
            self._segments.move_to_end(key)
            self.hits += 1
            return found
        self.misses += 1
        data = (b"" if first else b",") + b",".join(raw for _, _, raw in group)
        made = self._deflate(data)
        self._segments[key] = made
        self._held += len(made)
        while self._held > self._budget and len(self._segments) > 1:
            _, old = self._segments.popitem(last=False)
            self._held -= len(old)
        return made

    def body(self, head: bytes, pieces: Sequence[Piece], tail: bytes, *, variant: str = "") -> bytes:
        """The gzip of ``head + ",".join(piece JSON) + tail``; ``variant`` names what the pieces
        are (the whole objects, or a ``fields`` projection), so their segments are kept apart."""
        parts = [GZIP_HEADER, self._deflate(head)]
        crc = zlib.crc32(head)
        size = len(head)
        for start in range(0, len(pieces), self.GROUP):
            group = pieces[start : start + self.GROUP]
            parts.append(self._segment(variant, start == 0, group))
            for i, (_, _, raw) in enumerate(group):
                if start or i:
                    crc = zlib.crc32(b",", crc)
                    size += 1
                crc = zlib.crc32(raw, crc)
                size += len(raw)
        trailer = struct.pack("<II", zlib.crc32(tail, crc), (size + len(tail)) & 0xFFFFFFFF)
        parts += [self._deflate(tail), FINAL_BLOCK, trailer]
        return b"".join(parts)


class AppCache:
    def __init__(
        self, kube: ApiKube, namespace: str, *, watch_timeout: int = 300, gzip_level: int = 3
    ) -> None:
        self._kube = kube
        self._namespace = namespace
        self.gzip = GzipSegments(gzip_level) if gzip_level > 0 else None
        self._watch_timeout = watch_timeout
        self._apps: dict[str, CachedApp] = {}
        self._rv = ""
        self._task: asyncio.Task[None] | None = None
        self.synced = False

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="argosy-api-appcache")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    @property
    def resource_version(self) -> str:
        return self._rv

    def items(self) -> list[CachedApp]:
        return sorted(self._apps.values(), key=lambda a: a.name)

    def get(self, name: str) -> CachedApp | None:
        return self._apps.get(name)

    def put(self, obj: Mapping[str, Any]) -> None:
        """Record an object the API just wrote (ignored if the cache already has a newer one)."""
        new = entry(obj)
        old = self._apps.get(new.name)
        if old is None or new.resource_version >= old.resource_version:
            self._apps[new.name] = new

    def drop(self, name: str) -> None:
        self._apps.pop(name, None)

    async def _relist(self) -> None:
        result = await self._kube.list(APP_API, "Application", self._namespace, limit=500)
        self._apps = {e.name: e for e in map(entry, result.items)}
        self._rv = result.resource_version
        self.synced = True

    async def _run(self) -> None:
        backoff = 0.5
        need_list = True
        while True:
            try:
                if need_list:
                    await self._relist()
                    need_list = False
                async for event in self._kube.watch(
                    APP_API,
                    "Application",
                    self._namespace,
                    resource_version=self._rv,
                    timeout_seconds=self._watch_timeout,
                ):
                    obj = event.object
                    rv = str((obj.get("metadata") or {}).get("resourceVersion") or "")
                    if rv:
                        self._rv = rv
                    if event.type in ("ADDED", "MODIFIED"):
                        self.put(obj)
                    elif event.type == "DELETED":
                        self.drop(str((obj.get("metadata") or {}).get("name") or ""))
                backoff = 0.5
                await asyncio.sleep(0.05)  # a watch ended normally: reopen it
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if getattr(exc, "status", None) == 410:
                    need_list = True
                    continue
                log.warning("application cache: %s; relisting in %.1fs", type(exc).__name__, backoff)
                need_list = True
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 30.0)
