"""Sync of one app with 1,000 ConfigMaps beside `kubectl apply --server-side -f` of the same files.

Everything runs against one fresh local cluster in the same run: the apiserver's write ceiling
(`common.measure_write_ceiling`), kubectl, then Argosy's sync executor in several configurations,
each into its own namespace (fresh objects, so every sync creates 1,000 objects):

* `http2-c64`: one HTTP/2 connection (one TCP + TLS handshake), 64 requests at a time (the
  controller's setup: bootstrap gives the executor its own HTTP/2 client);
* with ``BENCH_ALL=1`` also `http1-c32` (HTTP/1.1, 32 connections, the old setup) and `http2-c128`;
* `http2-c64-clientdry`: HTTP/2, 64, with Argo CD's client-side dry run
  (`SyncSettings(dry_run_mode="client")`: the types are checked, no request per object);
* `http2-c64-nodry`: the same without the dry run (`SyncSettings(dry_run=False)`), the floor;
* `resync`: a second sync of the unchanged `http2-c64` objects, as the controller runs it: compare
  (server-side diff, whose dry runs are passed on) then sync with `ApplyOutOfSyncOnly=true`,
  beside a second `kubectl apply --server-side` of the unchanged files.

Baselines in the same run: one `kubectl apply --server-side -f` process (the target's baseline),
and `KUBECTL_PROCS` (8) kubectl processes in parallel, each applying its share of the files into its
own namespace: the apiserver's ceiling without a Python client's CPU cost on the same 2 cores.

Prints wall times, the ratio to kubectl (target: Argosy <= 0.5x kubectl), Argosy's object rate as a
share of the parallel-kubectl ceiling and the raw-client ceiling, CPU seconds of the Argosy process,
and the number of TLS handshakes each client made (discovery included).
"""

from __future__ import annotations

import asyncio
import os
import ssl
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import bench_cluster, config_map, measure_write_ceiling, progress

from argosy.adapters.kube import KubeClient, load_kubeconfig
from argosy.core.plan import OperationPhase, PlanOptions, build_plan
from argosy.model.annotations import parse_sync_options
from argosy.services.compare import CompareSettings, compare_app
from argosy.services.sync import SyncExecutor, SyncSettings, tracked_by

COUNT = 1000
KUBECTL_PROCS = int(os.environ.get("KUBECTL_PROCS", "8"))

HANDSHAKES = [0]
_wrap_bio = ssl.SSLContext.wrap_bio


def _counting_wrap_bio(self: ssl.SSLContext, *args: Any, **kwargs: Any) -> ssl.SSLObject:
    HANDSHAKES[0] += 1
    return _wrap_bio(self, *args, **kwargs)


ssl.SSLContext.wrap_bio = _counting_wrap_bio  # type: ignore[method-assign]


@dataclass
class Run:
    label: str
    seconds: float
    dry_seconds: float
    handshakes: int
    note: str = ""
    cpu: float = 0.0


def parallel_kubectl(kubectl: list[str], files: Path, procs: int) -> float:
    """``procs`` kubectl processes at once, each applying its share of ``files`` into its own namespace."""
    names = sorted(files.iterdir())
    with tempfile.TemporaryDirectory() as tmp:
        dirs = []
        for i in range(procs):
            part = Path(tmp) / f"part-{i}"
            part.mkdir()
            for f in names[i::procs]:
                (part / f.name).symlink_to(f)
            namespace = f"bench-kubectl-par-{i}"
            subprocess.run([*kubectl, "create", "namespace", namespace], check=True, capture_output=True)
            dirs.append((namespace, part))
        started = time.perf_counter()
        running = [
            subprocess.Popen(
                [*kubectl, "-n", ns, "apply", "--server-side", "-f", str(part)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            for ns, part in dirs
        ]
        for proc in running:
            _out, err = proc.communicate()
            if proc.returncode:
                raise SystemExit(f"parallel kubectl failed: {err.decode(errors='replace')[:500]}")
        return time.perf_counter() - started


def manifests(namespace: str) -> list[dict[str, Any]]:
    out = []
    for i in range(COUNT):
        cm = config_map(f"argosy-{i:05d}")
        cm["metadata"] = {"name": f"argosy-{i:05d}", "namespace": namespace}
        out.append(cm)
    return out


async def argosy_sync(
    kubeconfig: Path,
    namespace: str,
    *,
    http2: bool,
    concurrency: int,
    dry_run: bool,
    label: str,
    mode: Literal["server", "client"] = "server",
) -> Run:
    """Wall time of the whole sync (plan, dry run, applies), and of the dry run alone."""
    desired = manifests(namespace)
    async with KubeClient(load_kubeconfig(kubeconfig), http2=http2) as kube:
        HANDSHAKES[0] = 0
        await kube.discover()  # kubectl caches discovery on disk too
        started, cpu = time.perf_counter(), time.process_time()
        plan = build_plan(desired, [], PlanOptions(default_namespace=namespace))
        executor = SyncExecutor(
            kube,
            plan,
            SyncSettings(
                app_name="bench",
                wave_delay=0.0,
                concurrency=concurrency,
                dry_run=dry_run,
                dry_run_mode=mode,
            ),
        )
        dry_seconds = 0.0
        if dry_run:
            dry_started = time.perf_counter()
            assert await executor._dry_run()  # timed separately, then skipped by run()
            dry_seconds = time.perf_counter() - dry_started
            executor._dry_run_done = True
        result = await executor.run()
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        handshakes = HANDSHAKES[0]
    if result.phase is not OperationPhase.SUCCEEDED:
        raise SystemExit(f"sync failed: {result.message}")
    return Run(label, seconds, dry_seconds, handshakes, cpu=cpu)


async def argosy_resync(kubeconfig: Path, namespace: str, concurrency: int) -> Run:
    """Compare (server-side diff) then sync with ApplyOutOfSyncOnly of the unchanged objects."""
    desired = manifests(namespace)
    async with KubeClient(load_kubeconfig(kubeconfig), http2=True) as kube:
        HANDSHAKES[0] = 0
        await kube.discover()
        started = time.perf_counter()
        # The controller reads live from its cache; here one LIST stands in for the snapshot.
        listed = (await kube.list("v1", "ConfigMap", namespace)).items
        live = [obj for obj in listed if tracked_by(obj) == "bench"]  # not kube-root-ca.crt
        compared = await compare_app(
            kube,
            desired,
            live=live,
            settings=CompareSettings(app_name="bench", default_namespace=namespace, concurrency=concurrency),
        )
        compare_seconds = time.perf_counter() - started
        options = parse_sync_options(["ApplyOutOfSyncOnly=true"])
        plan = build_plan(
            desired,
            [],
            PlanOptions(default_namespace=namespace, sync_options=options),
        )
        executor = SyncExecutor(
            kube,
            plan,
            SyncSettings(app_name="bench", wave_delay=0.0, concurrency=concurrency),
            prior_dry_runs=compared.prior_dry_runs(),
        )
        result = await executor.run()
        seconds = time.perf_counter() - started
    if result.phase is not OperationPhase.SUCCEEDED:
        raise SystemExit(f"resync failed: {result.message}")
    skipped = sum(1 for e in result.events if e.kind == "skipped-in-sync")
    return Run(
        "resync (compare + ApplyOutOfSyncOnly)",
        seconds,
        compare_seconds,
        HANDSHAKES[0],
        f"{len(compared.out_of_sync)} out of sync, {skipped} applies skipped; compare {compare_seconds:.2f}s",
    )


def main() -> None:
    runs: list[Run] = []
    with bench_cluster() as (state, tools), tempfile.TemporaryDirectory() as tmp:
        ceiling = measure_write_ceiling(state, count=COUNT)
        files = Path(tmp)
        for i in range(COUNT):
            (files / f"cm-{i:05d}.yaml").write_text(yaml.safe_dump(config_map(f"kubectl-{i:05d}")))
        kubectl = [str(tools.binary("kubectl")), f"--kubeconfig={state.kubeconfig}"]
        variants = [
            ("http2-c64", True, 64, True),
            ("http2-c64-clientdry", True, 64, True),
            ("http2-c64-nodry", True, 64, False),
        ]
        if os.environ.get("BENCH_ALL"):
            extra = [("http1-c32", False, 32, True), ("http2-c128", True, 128, True)]
            variants = [extra[0], variants[0], extra[1], *variants[1:]]
        for ns in ("bench-kubectl", *(f"bench-{v[0]}" for v in variants)):
            subprocess.run([*kubectl, "create", "namespace", ns], check=True, capture_output=True)
        apply = [*kubectl, "-n", "bench-kubectl", "apply", "--server-side", "-f", str(files)]
        started = time.perf_counter()
        subprocess.run(apply, check=True, capture_output=True)
        kubectl_seconds = time.perf_counter() - started
        progress(f"{KUBECTL_PROCS} kubectl processes in parallel")
        parallel_seconds = parallel_kubectl(kubectl, files, KUBECTL_PROCS)
        kubeconfig = Path(state.kubeconfig)
        for label, http2, concurrency, dry_run in variants:
            progress(f"argosy sync {label}")
            runs.append(
                asyncio.run(
                    argosy_sync(
                        kubeconfig,
                        f"bench-{label}",
                        http2=http2,
                        concurrency=concurrency,
                        dry_run=dry_run,
                        label=label,
                        mode="client" if "clientdry" in label else "server",
                    )
                )
            )
        started = time.perf_counter()
        subprocess.run(apply, check=True, capture_output=True)
        kubectl_again = time.perf_counter() - started
        runs.append(asyncio.run(argosy_resync(kubeconfig, "bench-http2-c64", 64)))
        load = os.getloadavg()
    print(f"objects: {COUNT} ConfigMaps of 2 KB, one wave")
    print(f"load average at the end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    print(f"ceiling (raw HTTP/2 SSA, 32 workers):   {ceiling.seconds:6.2f}s = {ceiling.per_second:6.0f}/s")
    print(
        f"kubectl apply --server-side -f:         {kubectl_seconds:6.2f}s = {COUNT / kubectl_seconds:6.0f}/s"
    )
    parallel_rate = COUNT / parallel_seconds
    print(
        f"{KUBECTL_PROCS} kubectl apply processes in parallel: {parallel_seconds:6.2f}s"
        f" = {parallel_rate:6.0f}/s (the apiserver's ceiling without Python's client cost)"
    )
    print(f"kubectl apply again (unchanged):        {kubectl_again:6.2f}s")
    for run in runs:
        base = kubectl_again if run.label.startswith("resync") else kubectl_seconds
        applies = run.seconds - run.dry_seconds
        line = (
            f"argosy {run.label:38} {run.seconds:6.2f}s = {run.seconds / base:.2f}x kubectl"
            f" (dry run {run.dry_seconds:.2f}s, applies {applies:.2f}s"
        )
        if not run.label.startswith("resync"):
            line += f" = {COUNT / applies / ceiling.per_second:.0%} of the ceiling"
            line += f"; {COUNT / run.seconds / parallel_rate:.0%} of parallel kubectl's object rate"
            line += f"; CPU {run.cpu:.2f}s"
        line += f"; TLS handshakes {run.handshakes})"
        print(line + (f" {run.note}" if run.note else ""))
    print("target: argosy <= 0.50x kubectl")


if __name__ == "__main__":
    main()
