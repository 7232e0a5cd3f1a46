"""GET /api/v1/applications with 5,000 Application CRs in a local cluster.

Target (issue: API server): p50 <= 200 ms and a response <= 5 MB. The Applications are real CRs
(created with the CRDs installed), each with a typical spec and a status of 5 resources; the API
server runs in a uvicorn subprocess on 127.0.0.1 over ``KubeClient``, as the bootstrap wires it.
Measured as the admin (RBAC filters every item) with 20 sequential requests after 2 warm-ups.
"""

from __future__ import annotations

import asyncio
import base64
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import bench_cluster, progress

from argosy.adapters.kube import KubeClient
from argosy.deploy import crd_text
from tests.unit.cli.serve import free_port

N_APPS = 5000
NAMESPACE = "argocd"
REQUESTS = 20
SERVER = """
import sys, uvicorn
from argosy.adapters.kube import KubeClient
from argosy.api import ApiDeps, create_app
kube = KubeClient.from_kubeconfig(sys.argv[1])
uvicorn.run(create_app(ApiDeps(kube=kube, namespace=sys.argv[2])), host="127.0.0.1", port=int(sys.argv[3]),
            log_level="warning")
"""


def application(i: int) -> dict[str, object]:
    team = ("artemis", "sophia", "infrastructure")[i % 3]
    name = f"{team}-svc-{i:05d}"
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": name, "namespace": NAMESPACE, "labels": {"team": team, "env": "prod"}},
        "spec": {
            "project": "default",
            "source": {
                "repoURL": "https://github.com/sophia-intel-ai/deploy.git",
                "path": f"services/{name}",
                "targetRevision": "main",
            },
            "destination": {"server": "https://kubernetes.default.svc", "namespace": team},
            "syncPolicy": {
                "automated": {"prune": True, "selfHeal": True},
                "syncOptions": ["CreateNamespace=true"],
            },
        },
        "status": {
            "sync": {"status": "Synced", "revision": "0123456789abcdef0123456789abcdef01234567"},
            "health": {"status": "Healthy"},
            "resources": [
                {
                    "group": g,
                    "version": "v1",
                    "kind": k,
                    "namespace": team,
                    "name": name,
                    "status": "Synced",
                    "health": {"status": "Healthy"},
                }
                for g, k in (
                    ("apps", "Deployment"),
                    ("", "Service"),
                    ("", "ConfigMap"),
                    ("", "ServiceAccount"),
                    ("networking.k8s.io", "Ingress"),
                )
            ],
        },
    }


async def create_apps(kubeconfig: Path) -> float:
    started = time.monotonic()
    async with KubeClient.from_kubeconfig(kubeconfig) as kube:
        await kube.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}})
        sem = asyncio.Semaphore(64)

        async def one(i: int) -> None:
            async with sem:
                await kube.create(application(i))

        await asyncio.gather(*(one(i) for i in range(N_APPS)))
    return time.monotonic() - started


def main() -> None:
    with bench_cluster("bench-api") as (state, tools):
        kubectl = [str(tools.bin_dir / "kubectl"), f"--kubeconfig={state.kubeconfig}"]
        for name in ("application", "appproject"):
            subprocess.run(
                [*kubectl, "apply", "-f", "-"],
                input=crd_text(name),
                text=True,
                check=True,
                capture_output=True,
            )
        subprocess.run(
            [
                *kubectl,
                "wait",
                "--for=condition=Established",
                "crd/applications.argoproj.io",
                "crd/appprojects.argoproj.io",
                "--timeout=60s",
            ],
            check=True,
            capture_output=True,
        )
        created = asyncio.run(create_apps(state.kubeconfig))
        progress(f"created {N_APPS} Applications in {created:.1f}s")
        port = free_port()
        proc = subprocess.Popen([sys.executable, "-c", SERVER, str(state.kubeconfig), NAMESPACE, str(port)])
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise SystemExit("the API server did not start")
                time.sleep(0.2)
            out = subprocess.run(
                [
                    *kubectl,
                    "-n",
                    NAMESPACE,
                    "get",
                    "secret",
                    "argocd-initial-admin-secret",
                    "-o",
                    "jsonpath={.data.password}",
                ],
                check=True,
                capture_output=True,
                text=True,
            )
            password = base64.b64decode(out.stdout).decode()
            with httpx.Client(base_url=base, timeout=60) as client:
                token = client.post(
                    "/api/v1/session", json={"username": "admin", "password": password}
                ).json()["token"]
                headers = {"Authorization": f"Bearer {token}"}
                timings: list[float] = []
                size = wire = 0
                first_ms = 0.0
                count = 0
                for i in range(REQUESTS + 2):
                    t0 = time.perf_counter()
                    r = client.get("/api/v1/applications", headers=headers)
                    elapsed = time.perf_counter() - t0
                    r.raise_for_status()
                    if i == 0:
                        first_ms = elapsed * 1000
                    if i >= 2:
                        timings.append(elapsed)
                    size = len(r.content)
                    wire = r.num_bytes_downloaded
                    count = len(r.json()["items"])
                t0 = time.perf_counter()
                small = client.get(
                    "/api/v1/applications",
                    headers=headers,
                    params={
                        "fields": "items.metadata.name,items.status.sync.status,items.status.health.status"
                    },
                )
                fields_ms = (time.perf_counter() - t0) * 1000
        finally:
            proc.terminate()
            proc.wait(timeout=20)
    timings.sort()
    p50 = statistics.median(timings) * 1000
    p90 = timings[int(len(timings) * 0.9) - 1] * 1000
    result = {
        "applications": count,
        "p50_ms": round(p50, 1),
        "p90_ms": round(p90, 1),
        "max_ms": round(timings[-1] * 1000, 1),
        "first_request_ms": round(first_ms, 1),
        "response_bytes": size,
        "response_mb": round(size / 1e6, 2),
        "wire_bytes_gzip": wire,
        "wire_mb_gzip": round(wire / 1e6, 2),
        "fields_request_ms": round(fields_ms, 1),
        "fields_response_bytes": len(small.content),
        "target": "p50 <= 200 ms, <= 5 MB",
        "p50_ok": p50 <= 200,
        "size_ok_uncompressed": size <= 5_000_000,
        "size_ok_on_the_wire": wire <= 5_000_000,
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
