"""The local apiserver's write ceiling beside `kubectl apply --server-side` of the same objects.

Prints both figures and their ratio. Later benchmarks reuse `common.measure_write_ceiling`.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import bench_cluster, config_map, measure_write_ceiling

COUNT = 1000


def main() -> None:
    with bench_cluster() as (state, tools), tempfile.TemporaryDirectory() as tmp:
        ceiling = measure_write_ceiling(state, count=COUNT)
        files = Path(tmp)
        for i in range(COUNT):
            (files / f"cm-{i:05d}.yaml").write_text(yaml.safe_dump(config_map(f"kubectl-{i:05d}")))
        kubectl = [str(tools.binary("kubectl")), f"--kubeconfig={state.kubeconfig}"]
        subprocess.run([*kubectl, "create", "namespace", "bench-kubectl"], check=True, capture_output=True)
        started = time.perf_counter()
        subprocess.run(
            [*kubectl, "-n", "bench-kubectl", "apply", "--server-side", "-f", str(files)],
            check=True,
            capture_output=True,
        )
        kubectl_seconds = time.perf_counter() - started
    kubectl_rate = COUNT / kubectl_seconds
    print(f"ceiling (raw HTTP/2 SSA, 32 workers):       {ceiling.seconds:.2f}s = {ceiling.per_second:.0f}/s")
    print(f"kubectl apply --server-side -f (1 process):     {kubectl_seconds:.2f}s = {kubectl_rate:.0f}/s")
    print(f"kubectl / ceiling rate: {kubectl_rate / ceiling.per_second:.2f}")


if __name__ == "__main__":
    main()
