"""GET /api/v1/applications with 5,000 Application CRs in a local cluster.

Target (issue: API server): p50 <= 200 ms and a response <= 5 MB with default fields. The
Applications are real CRs (created with the CRDs installed), each with a typical spec and a status of
5 resources; the API server runs in a uvicorn subprocess on 127.0.0.1 over ``KubeClient``, as the
bootstrap wires it (gzip level 3 for answers over 1 KB, as ``ApiDeps`` defaults). Measured as the
admin (RBAC filters every item) with 20 sequential requests after 2 warm-ups, in two series:

* ``gzip``: httpx's default ``Accept-Encoding`` (gzip, as browsers and the argosy CLI send): the
  body on the wire is compressed, and the latency includes compressing it (and decompressing);
* ``identity``: ``Accept-Encoding: identity``, the uncompressed baseline (what the first version of
  this benchmark measured before the server compressed): the full body on the wire;
* ``ui_fields_gzip``: the web UI's ``fields`` list (``UI_FIELDS``), gzip accepted.
"""

from __future__ import annotations

import asyncio
import base64
import json
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
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
# What the web UI's applications page asks for (LIST_FIELDS in ui/src/pages/AppsList.tsx).
UI_FIELDS = (
    "metadata.resourceVersion,items.metadata.name,items.metadata.namespace,items.metadata.labels,"
    "items.metadata.resourceVersion,items.spec,items.status.sync,items.status.health,items.status.argosy,"
    "items.status.operationState.phase,items.status.reconciledAt,items.operation"
)
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
    async with KubeClient.from_kubeconfig(str(kubeconfig)) as kube:
        await kube.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}})
        sem = asyncio.Semaphore(64)

        async def one(i: int) -> None:
            async with sem:
                await kube.create(application(i))

        await asyncio.gather(*(one(i) for i in range(N_APPS)))
    return time.monotonic() - started


@dataclass
class Series:
    timings: list[float] = field(default_factory=list)
    first_ms: float = 0.0
    body_bytes: int = 0  # decoded body
    wire_bytes: int = 0  # bytes received for the body (compressed when gzip)
    encoding: str = ""
    count: int = 0
    item_parts: dict[str, int] = field(default_factory=dict)  # mean compact-JSON bytes per item

    @property
    def p50_ms(self) -> float:
        return statistics.median(self.timings) * 1000

    def summary(self) -> dict[str, object]:
        timings = sorted(self.timings)
        return {
            "content_encoding": self.encoding or "identity",
            "p50_ms": round(self.p50_ms, 1),
            "p90_ms": round(timings[int(len(timings) * 0.9) - 1] * 1000, 1),
            "max_ms": round(timings[-1] * 1000, 1),
            "first_request_ms": round(self.first_ms, 1),
            "body_bytes": self.body_bytes,
            "wire_bytes": self.wire_bytes,
            "wire_mb": round(self.wire_bytes / 1e6, 2),
        }


def _series(client: httpx.Client, headers: dict[str, str], params: dict[str, str] | None = None) -> Series:
    out = Series()
    for i in range(REQUESTS + 2):
        t0 = time.perf_counter()
        r = client.get("/api/v1/applications", headers=headers, params=params)
        elapsed = time.perf_counter() - t0
        r.raise_for_status()
        if i == 0:
            out.first_ms = elapsed * 1000
        if i >= 2:
            out.timings.append(elapsed)
        out.body_bytes = len(r.content)
        out.wire_bytes = r.num_bytes_downloaded
        out.encoding = r.headers.get("content-encoding", "")
        items = r.json()["items"]
        out.count = len(items)
        out.item_parts = {
            key: round(sum(len(json.dumps(it.get(key), separators=(",", ":"))) for it in items) / len(items))
            for key in ("apiVersion", "kind", "metadata", "spec", "status")
        }
    return out


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
                gz = _series(client, headers)
                plain = _series(client, {**headers, "Accept-Encoding": "identity"})
                ui = _series(client, headers, {"fields": UI_FIELDS})
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
    result = {
        "applications": gz.count,
        "gzip": gz.summary(),
        "identity": plain.summary(),
        "ui_fields_gzip": ui.summary(),
        "response_bytes_uncompressed": plain.body_bytes,
        "wire_bytes_gzip": gz.wire_bytes,
        "wire_bytes_identity": plain.wire_bytes,
        "mean_item_bytes": round(plain.body_bytes / max(plain.count, 1)),
        "mean_item_bytes_by_part": plain.item_parts,
        "gzip_ratio": round(plain.body_bytes / max(gz.wire_bytes, 1), 1),
        "fields_request_ms": round(fields_ms, 1),
        "fields_response_bytes": len(small.content),
        "target": "p50 <= 200 ms, <= 5 MB",
        "p50_ok_gzip": gz.p50_ms <= 200,
        "p50_ok_identity": plain.p50_ms <= 200,
        "size_ok_on_the_wire_gzip": gz.wire_bytes <= 5_000_000,
        "size_ok_uncompressed": plain.body_bytes <= 5_000_000,
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
