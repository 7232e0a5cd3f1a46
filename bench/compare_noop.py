"""A no-op compare of 1,000 apps x 20 ConfigMaps against the live cache.

One fresh local cluster: 20,000 ConfigMaps (about 500 bytes of data each), each tracked by one of
1,000 apps (the tracking-id annotation Argosy's sync sets), written by server-side apply with
Argosy's field manager, so they carry managedFields like synced objects. A ``ClusterCache``
lists and watches them. Then full compare cycles of all 1,000 apps run, with the desired state
in memory (the same objects as written, no Git) and the live objects from the cache snapshot:
no GETs and no server-side dry runs (``CompareSettings(server_side_diff=False)``: the two-way /
three-way diff):

* cold: every resource is diffed (the first cycle after a controller start), three-way against
  what Argosy's field manager applied (managedFields); again with Argo CD's plain two-way diff;
* fill: the first cycle with a ``CompareMemo`` per app (what the controller's first refresh
  after a start costs: it diffs every resource and remembers the statuses);
* warm: the same cycle again with the memos (what the controller's periodic refresh costs when
  nothing changed).

As the controller does (bootstrap), ``gc.collect(); gc.freeze()`` runs once the cache has synced;
the cold and fill cycles are then measured once more without it, for comparison.

Reports wall and CPU time per cycle and peak RSS (``resource.getrusage``); targets: <= 2 s
and <= 500 MB. Baseline in the same run: ``kubectl get configmaps -A -o json`` of the same objects.
Set BENCH_PROFILE=1 to print a cProfile of the cold cycle.
"""

from __future__ import annotations

import asyncio
import cProfile
import gc
import io
import json
import os
import pstats
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import admin_ssl_context, bench_cluster, progress

from argosy.adapters.kube import KubeClient, load_kubeconfig
from argosy.adapters.kube.livecache import ClusterCache
from argosy.model.resources import ResourceKey
from argosy.services.compare import CompareMemo, CompareSettings, SyncStatus, compare_app
from argosy.services.sync import FIELD_MANAGER, tracking_id

APPS = int(os.environ.get("BENCH_APPS", "1000"))
PER_APP = 20
NAMESPACES = 20
WORKERS = 96


def app_name(i: int) -> str:
    return f"app-{i:04d}"


def desired_state(app: int) -> list[dict[str, Any]]:
    name = app_name(app)
    namespace = f"bench-{app % NAMESPACES:02d}"
    out = []
    for j in range(PER_APP):
        cm_name = f"{name}-cm-{j:02d}"
        key = ResourceKey("", "ConfigMap", namespace, cm_name)
        out.append(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {
                    "name": cm_name,
                    "namespace": namespace,
                    "labels": {"app.kubernetes.io/name": name, "tier": "backend"},
                    "annotations": {"argocd.argoproj.io/tracking-id": tracking_id(name, key)},
                },
                "data": {
                    "settings.yaml": f"app: {name}\nindex: {j}\n" + "x: " + "y" * 400 + "\n",
                    "LOG_LEVEL": "info",
                    "PORT": "8080",
                },
            }
        )
    return out


async def create_objects(server: str, context: Any, desired: list[list[dict[str, Any]]]) -> float:
    """Server-side apply every object with Argosy's field manager (raw HTTP/2, WORKERS at once)."""
    started = time.perf_counter()
    async with httpx.AsyncClient(base_url=server, verify=context, http2=True, timeout=60) as client:
        for n in range(NAMESPACES):
            await client.post("/api/v1/namespaces", json={"metadata": {"name": f"bench-{n:02d}"}})
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        for objs in desired:
            for obj in objs:
                queue.put_nowait(obj)

        async def worker() -> None:
            while not queue.empty():
                obj = queue.get_nowait()
                meta = obj["metadata"]
                response = await client.patch(
                    f"/api/v1/namespaces/{meta['namespace']}/configmaps/{meta['name']}",
                    params={"fieldManager": FIELD_MANAGER, "force": "true"},
                    content=json.dumps(obj),
                    headers={"Content-Type": "application/apply-patch+yaml"},
                )
                response.raise_for_status()

        await asyncio.gather(*(worker() for _ in range(WORKERS)))
    return time.perf_counter() - started


async def cycle(
    kube: KubeClient,
    cache: ClusterCache,
    desired: list[list[dict[str, Any]]],
    memos: list[CompareMemo] | None,
    managed_fields_base: bool = True,
) -> tuple[float, float, int]:
    """One compare of every app; returns wall seconds, CPU seconds and the out-of-sync count."""
    gc.collect()
    wall, cpu = time.perf_counter(), time.process_time()
    out_of_sync = 0
    for i, manifests in enumerate(desired):
        name = app_name(i)
        result = await compare_app(
            kube,
            manifests,
            live=cache.snapshot(name),  # keyed by ResourceKey, as the controller passes it
            settings=CompareSettings(
                app_name=name, server_side_diff=False, managed_fields_base=managed_fields_base
            ),
            memo=memos[i] if memos is not None else None,
        )
        if result.sync_status is not SyncStatus.SYNCED:
            out_of_sync += 1
    return time.perf_counter() - wall, time.process_time() - cpu, out_of_sync


async def run(kubeconfig: Path, desired: list[list[dict[str, Any]]]) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    async with KubeClient(load_kubeconfig(kubeconfig)) as kube:
        cache = ClusterCache(kube)
        started = time.perf_counter()
        await cache.start(wait=True, timeout=300)
        figures["cache_sync"] = time.perf_counter() - started
        figures["cached_apps"] = sum(1 for a in cache.apps() if a.startswith("app-"))
        figures["rss_after_cache_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        gc.collect()
        gc.freeze()  # what bootstrap does once the cache has synced
        profiler = cProfile.Profile() if os.environ.get("BENCH_PROFILE") else None
        if profiler:
            profiler.enable()
        figures["cold"] = await cycle(kube, cache, desired, None)
        if profiler:
            profiler.disable()
            text = io.StringIO()
            pstats.Stats(profiler, stream=text).sort_stats("cumulative").print_stats(35)
            print(text.getvalue())
        figures["two_way"] = await cycle(kube, cache, desired, None, managed_fields_base=False)
        memos = [CompareMemo() for _ in desired]
        figures["fill"] = await cycle(kube, cache, desired, memos)
        figures["warm"] = await cycle(kube, cache, desired, memos)
        figures["warm2"] = await cycle(kube, cache, desired, memos)
        del memos
        gc.unfreeze()
        figures["cold_unfrozen"] = await cycle(kube, cache, desired, None)
        figures["fill_unfrozen"] = await cycle(kube, cache, desired, [CompareMemo() for _ in desired])
        await cache.stop()
    figures["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return figures


def main() -> None:
    desired = [desired_state(i) for i in range(APPS)]
    total = APPS * PER_APP
    with bench_cluster("bench-compare") as (state, tools):
        progress(f"creating {total} ConfigMaps")
        create_seconds = asyncio.run(create_objects(state.server, admin_ssl_context(state), desired))
        kubectl = [str(tools.binary("kubectl")), f"--kubeconfig={state.kubeconfig}"]
        started = time.perf_counter()
        listing = subprocess.run(
            [*kubectl, "get", "configmaps", "-A", "-o", "json"], check=True, capture_output=True
        )
        kubectl_seconds = time.perf_counter() - started
        listed = len(json.loads(listing.stdout)["items"])
        progress("comparing")
        figures = asyncio.run(run(Path(state.kubeconfig), desired))
        load = os.getloadavg()
    cold_wall, cold_cpu, cold_oos = figures["cold"]
    warm_wall, warm_cpu, warm_oos = figures["warm"]
    fill_wall, fill_cpu, _ = figures["fill"]
    warm2_wall, warm2_cpu, _ = figures["warm2"]
    print(f"objects: {total} ConfigMaps in {APPS} apps x {PER_APP}, created in {create_seconds:.1f}s")
    print(f"load average at the end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    print(f"kubectl get configmaps -A -o json ({listed} items): {kubectl_seconds:6.2f}s")
    print(f"cache start (list + watch all types):        {figures['cache_sync']:6.2f}s")
    two_wall, two_cpu, two_oos = figures["two_way"]
    rows = [
        ("cold cycle (diff every resource)", cold_wall, cold_cpu, f"out of sync {cold_oos}"),
        ("cold cycle, plain two-way diff", two_wall, two_cpu, f"out of sync {two_oos}"),
        ("memo fill cycle", fill_wall, fill_cpu, ""),
        ("warm cycle (memo, nothing changed)", warm_wall, warm_cpu, f"out of sync {warm_oos}"),
        ("warm cycle again", warm2_wall, warm2_cpu, ""),
        ("without gc.freeze(): cold cycle", *figures["cold_unfrozen"][:2], ""),
        ("without gc.freeze(): memo fill cycle", *figures["fill_unfrozen"][:2], ""),
    ]
    for label, wall, cpu, note in rows:
        print(f"{label + ':':36} wall {wall:6.2f}s  cpu {cpu:6.2f}s  {note}")
    rss, peak = figures["rss_after_cache_mb"], figures["peak_rss_mb"]
    print(f"RSS after cache start: {rss:.0f} MB, peak RSS: {peak:.0f} MB")
    print(f"cold / kubectl get: {cold_wall / kubectl_seconds:.2f}x")
    print(f"warm / kubectl get: {warm_wall / kubectl_seconds:.2f}x")
    print(f"fill / kubectl get: {fill_wall / kubectl_seconds:.2f}x")
    print("targets: cycle <= 2 s, peak RSS <= 500 MB (cycles above: after gc.freeze(), as the controller)")


if __name__ == "__main__":
    main()
