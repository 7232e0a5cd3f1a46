"""Sync of one app with 1,000 ConfigMaps beside `kubectl apply --server-side -f` of the same files.

Everything runs against one fresh local cluster in the same run: the apiserver's write ceiling
(`common.measure_write_ceiling`), kubectl, then Argosy's sync executor (dry run of every object,
then server-side applies, 32 at a time). Prints both wall times, their ratio (target: Argosy <=
0.5x kubectl) and Argosy's writes/s as a share of the ceiling.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import bench_cluster, config_map, measure_write_ceiling

from argosy.adapters.kube import KubeClient, load_kubeconfig
from argosy.core.plan import OperationPhase, PlanOptions, build_plan
from argosy.services.sync import SyncExecutor, SyncSettings

COUNT = 1000
CONCURRENCY = 32


async def argosy_sync(kubeconfig: Path, namespace: str) -> tuple[float, float]:
    """Wall time of the whole sync (plan, dry run, applies) and of the dry run alone."""
    manifests = []
    for i in range(COUNT):
        cm = config_map(f"argosy-{i:05d}")
        cm["metadata"] = {"name": f"argosy-{i:05d}", "namespace": namespace}
        manifests.append(cm)
    async with KubeClient(load_kubeconfig(kubeconfig)) as kube:
        await kube.discover()  # kubectl caches discovery on disk too
        started = time.perf_counter()
        plan = build_plan(manifests, [], PlanOptions(default_namespace=namespace))
        executor = SyncExecutor(
            kube, plan, SyncSettings(app_name="bench", wave_delay=0.0, concurrency=CONCURRENCY)
        )
        dry_started = time.perf_counter()
        assert await executor._dry_run()  # timed separately, then skipped by run()
        dry_seconds = time.perf_counter() - dry_started
        executor._dry_run_done = True
        result = await executor.run()
        seconds = time.perf_counter() - started
    if result.phase is not OperationPhase.SUCCEEDED:
        raise SystemExit(f"sync failed: {result.message}")
    return seconds, dry_seconds


def main() -> None:
    with bench_cluster() as (state, tools), tempfile.TemporaryDirectory() as tmp:
        ceiling = measure_write_ceiling(state, count=COUNT)
        files = Path(tmp)
        for i in range(COUNT):
            (files / f"cm-{i:05d}.yaml").write_text(yaml.safe_dump(config_map(f"kubectl-{i:05d}")))
        kubectl = [str(tools.binary("kubectl")), f"--kubeconfig={state.kubeconfig}"]
        for ns in ("bench-kubectl", "bench-argosy"):
            subprocess.run([*kubectl, "create", "namespace", ns], check=True, capture_output=True)
        started = time.perf_counter()
        subprocess.run(
            [*kubectl, "-n", "bench-kubectl", "apply", "--server-side", "-f", str(files)],
            check=True,
            capture_output=True,
        )
        kubectl_seconds = time.perf_counter() - started
        argosy_seconds, dry_seconds = asyncio.run(argosy_sync(Path(state.kubeconfig), "bench-argosy"))
    argosy_rate = COUNT / argosy_seconds
    print(f"objects: {COUNT} ConfigMaps of 2 KB, one wave, concurrency {CONCURRENCY}")
    print(f"ceiling (raw HTTP/2 SSA, 32 workers):   {ceiling.seconds:6.2f}s = {ceiling.per_second:6.0f}/s")
    print(
        f"kubectl apply --server-side -f:         {kubectl_seconds:6.2f}s = {COUNT / kubectl_seconds:6.0f}/s"
    )
    print(
        f"argosy sync (dry run + apply):          {argosy_seconds:6.2f}s = {argosy_rate:6.0f} objects/s"
        f" (dry run {dry_seconds:.2f}s)"
    )
    applies = argosy_seconds - dry_seconds
    print(f"argosy applies alone:                   {applies:6.2f}s = {COUNT / applies:6.0f} writes/s")
    print(f"argosy / kubectl wall time: {argosy_seconds / kubectl_seconds:.2f}x (target <= 0.50x)")
    print(f"argosy writes/s as a share of the ceiling: {COUNT / applies / ceiling.per_second:.0%}")


if __name__ == "__main__":
    main()
