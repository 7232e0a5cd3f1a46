"""Shared plumbing for the benchmarks: a local cluster, and the apiserver's own write ceiling.

Every benchmark that writes to the cluster measures the ceiling in the same run (a raw concurrent
HTTP/2 client doing server-side applies of 2 KB ConfigMaps, as in local-control-plane.md §V) and
reports its own rate as a share of it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx

from argosy.adapters.localcluster import plane, toolchain


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@contextlib.contextmanager
def bench_cluster(name: str = "bench") -> Iterator[tuple[plane.ClusterState, toolchain.Toolchain]]:
    """A fresh local cluster for one benchmark run, stopped afterwards."""
    tools = toolchain.ensure_toolchain(progress)
    plane.down(name, progress=progress)
    state = plane.up(name, tools, progress=progress)
    try:
        yield state, tools
    finally:
        plane.down(name, progress=progress)


admin_ssl_context = plane.admin_ssl_context


def config_map(name: str, size: int = 2048) -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name},
        "data": {"payload": (name * (size // len(name) + 1))[:size]},
    }


@dataclass(frozen=True)
class Ceiling:
    writes: int
    seconds: float

    @property
    def per_second(self) -> float:
        return self.writes / self.seconds


async def _ceiling(state: plane.ClusterState, namespace: str, count: int, workers: int) -> Ceiling:
    async with httpx.AsyncClient(
        base_url=state.server, verify=admin_ssl_context(state), http2=True, timeout=30
    ) as client:
        await client.post("/api/v1/namespaces", json={"metadata": {"name": namespace}})
        queue: asyncio.Queue[int] = asyncio.Queue()
        for i in range(count):
            queue.put_nowait(i)

        async def worker() -> None:
            while not queue.empty():
                i = queue.get_nowait()
                name = f"ceiling-{i:05d}"
                response = await client.patch(
                    f"/api/v1/namespaces/{namespace}/configmaps/{name}",
                    params={"fieldManager": "bench-ceiling", "force": "true"},
                    content=json.dumps(config_map(name)),
                    headers={"Content-Type": "application/apply-patch+yaml"},
                )
                response.raise_for_status()

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(workers)))
        return Ceiling(writes=count, seconds=time.perf_counter() - started)


def measure_write_ceiling(
    state: plane.ClusterState, *, namespace: str = "bench-ceiling", count: int = 1000, workers: int = 32
) -> Ceiling:
    """Server-side applies per second that this apiserver + etcd take from a raw concurrent client."""
    return asyncio.run(_ceiling(state, namespace, count, workers))
