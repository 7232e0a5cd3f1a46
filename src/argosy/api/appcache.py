"""An informer-style cache of the Application CRs for the API's list and get routes.

One task lists the Applications and then watches them (resuming from the last resourceVersion,
relisting on 410 Gone, backing off on errors). Each entry keeps the stripped object and its JSON
bytes, computed once per change, so ``GET /api/v1/applications`` joins ready-made bytes instead of
serialising 5,000 objects per request. The API's own writes are put into the cache at once
(read-your-writes); a newer resourceVersion from the watch replaces them.

Until the first list completes, :attr:`synced` is False and the routes read the apiserver directly.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from argosy.api.common import APP_API, strip_object
from argosy.ports.apiserver import ApiKube

__all__ = ["AppCache", "CachedApp"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CachedApp:
    name: str
    project: str
    labels: Mapping[str, str]
    resource_version: int
    obj: dict[str, Any]
    raw: bytes  # compact JSON of ``obj``


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
        raw=json.dumps(stripped, separators=(",", ":"), ensure_ascii=False).encode("utf-8"),
    )


class AppCache:
    def __init__(self, kube: ApiKube, namespace: str, *, watch_timeout: int = 300) -> None:
        self._kube = kube
        self._namespace = namespace
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
