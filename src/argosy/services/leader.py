"""Leader election with a ``coordination.k8s.io/v1`` Lease, as client-go's ``leaderelection`` does it.

One candidate holds the Lease (``spec.holderIdentity``) and renews ``spec.renewTime`` every
``retry_period`` seconds. Others try every ``retry_period`` and take the Lease over once it has not
been renewed for ``lease_duration`` seconds. A leader that could not renew for ``renew_deadline``
seconds gives up. Writes are resourceVersion-checked, so two candidates never both win.

Layer 4 (``argosy.services``). May import: ``argosy.ports``, ``argosy.model``.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from argosy.ports.kube import Kube, is_already_exists, is_conflict, is_not_found

__all__ = ["LeaderElector", "LeaseSettings", "default_identity"]

log = logging.getLogger(__name__)

LEASE_API = "coordination.k8s.io/v1"


def default_identity() -> str:
    return f"{socket.gethostname()}_{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True, slots=True)
class LeaseSettings:
    name: str = "argosy-controller"
    namespace: str = "argocd"
    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0
    identity: str = field(default_factory=default_identity)


def _micro(now: datetime) -> str:
    return now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse_micro(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


class LeaderElector:
    """``await run(lead)``: campaign; while leader, ``lead()`` runs; it is cancelled when the lease is lost.
    ``run`` returns when ``stop()`` is called (releasing the lease if held)."""

    def __init__(
        self, kube: Kube, settings: LeaseSettings, *, clock: Callable[[], datetime] | None = None
    ) -> None:
        self.kube = kube
        self.settings = settings
        self._clock = clock or (lambda: datetime.now(UTC))
        self._stop = asyncio.Event()
        self.is_leader = False
        self.transitions = 0

    def stop(self) -> None:
        self._stop.set()

    def _lease(self, now: datetime, transitions: int, acquire: str, rv: str | None) -> dict[str, Any]:
        s = self.settings
        obj: dict[str, Any] = {
            "apiVersion": LEASE_API,
            "kind": "Lease",
            "metadata": {"name": s.name, "namespace": s.namespace},
            "spec": {
                "holderIdentity": s.identity,
                "leaseDurationSeconds": max(1, round(s.lease_duration)),
                "acquireTime": acquire,
                "renewTime": _micro(now),
                "leaseTransitions": transitions,
            },
        }
        if rv:
            obj["metadata"]["resourceVersion"] = rv
        return obj

    async def try_acquire_or_renew(self) -> bool:
        """One attempt; True when we hold the lease afterwards."""
        s = self.settings
        now = self._clock()
        try:
            lease = await self.kube.get(LEASE_API, "Lease", s.name, s.namespace)
        except Exception as exc:
            if not is_not_found(exc):
                log.warning("leader election: cannot read the lease: %s", exc)
                return False
            try:
                await self.kube.create(self._lease(now, 0, _micro(now), None))
            except Exception as create_exc:
                if not is_already_exists(create_exc):
                    log.warning("leader election: cannot create the lease: %s", create_exc)
                return False
            return True
        spec = lease.get("spec") or {}
        holder = str(spec.get("holderIdentity") or "")
        transitions = int(spec.get("leaseTransitions") or 0)
        renewed = _parse_micro(spec.get("renewTime")) or _parse_micro(spec.get("acquireTime"))
        duration = float(spec.get("leaseDurationSeconds") or s.lease_duration)
        mine = holder == s.identity
        expired = renewed is None or now - renewed > timedelta(seconds=duration)
        if not mine and holder and not expired:
            return False
        acquire = str(spec.get("acquireTime") or "") if mine else _micro(now)
        rv = str((lease.get("metadata") or {}).get("resourceVersion") or "")
        try:
            await self.kube.replace(self._lease(now, transitions if mine else transitions + 1, acquire, rv))
        except Exception as exc:
            if not is_conflict(exc):
                log.warning("leader election: cannot update the lease: %s", exc)
            return False
        return True

    async def release(self) -> None:
        """Give the lease up (so a successor need not wait ``lease_duration``)."""
        s = self.settings
        try:
            lease = await self.kube.get(LEASE_API, "Lease", s.name, s.namespace)
            if (lease.get("spec") or {}).get("holderIdentity") != s.identity:
                return
            lease["spec"]["holderIdentity"] = ""
            lease["spec"]["leaseDurationSeconds"] = 1
            await self.kube.replace(lease)
        except Exception as exc:
            log.info("leader election: release failed: %s", exc)

    async def _sleep(self, seconds: float) -> bool:
        """Sleep unless stopped; True when stopped."""
        try:
            await asyncio.wait_for(self._stop.wait(), timeout=seconds)
        except TimeoutError:
            return False
        return True

    async def run(self, lead: Callable[[], Coroutine[Any, Any, None]]) -> None:
        s = self.settings
        loop = asyncio.get_running_loop()
        while not self._stop.is_set():
            if not await self.try_acquire_or_renew():
                if await self._sleep(s.retry_period):
                    return
                continue
            self.is_leader = True
            self.transitions += 1
            log.info("leader election: %s became the leader of %s/%s", s.identity, s.namespace, s.name)
            task = asyncio.create_task(lead(), name="leader-work")
            last_renew = loop.time()
            try:
                while not self._stop.is_set() and not task.done():
                    if await self._sleep(s.retry_period):
                        break
                    if await self.try_acquire_or_renew():
                        last_renew = loop.time()
                    elif loop.time() - last_renew > s.renew_deadline:
                        log.warning("leader election: %s lost the lease", s.identity)
                        break
            finally:
                self.is_leader = False
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
            if task.done() and not task.cancelled() and task.exception() is not None:
                log.error("leader work failed: %s", task.exception())
        await self.release()
