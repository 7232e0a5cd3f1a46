"""The API server against a real control plane, driven by the real ``argosy`` CLI in subprocesses.

The API runs in a uvicorn subprocess on a free 127.0.0.1 port over ``KubeClient`` (the bootstrap's
wiring, done here by hand), with the audit log written by ``AuditLogWriter``.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from argosy.deploy import crd_text
from tests.support.cluster import ControlPlane
from tests.unit.cli.serve import free_port

pytestmark = pytest.mark.integration

SERVER_SCRIPT = """
import dataclasses, sys
import uvicorn
from argosy.adapters.audit import AuditEvent, AuditLogWriter
from argosy.adapters.kube import KubeClient
from argosy.api import ApiDeps, create_app

kubeconfig, namespace, port, audit_path = sys.argv[1:5]
kube = KubeClient.from_kubeconfig(kubeconfig)
writer = AuditLogWriter(audit_path)
app = create_app(ApiDeps(kube=kube, namespace=namespace, secure_cookies=False,
                         audit=lambda e: writer.write(AuditEvent(**dataclasses.asdict(e)))))
uvicorn.run(app, host="127.0.0.1", port=int(port), log_level="warning")
"""


@dataclass
class Server:
    address: str
    namespace: str
    audit: Path
    config: Path
    plane: ControlPlane

    def cli(
        self, *args: str, token: str | None = None, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        full_env = {k: v for k, v in os.environ.items() if not k.startswith(("ARGOCD_", "ARGOSY_"))}
        full_env.update({"ARGOSY_CONFIG": str(self.config), "ARGOSY_POLL_INTERVAL": "0.2", **(env or {})})
        if token:
            full_env["ARGOCD_AUTH_TOKEN"] = token
        return subprocess.run(
            [sys.executable, "-m", "argosy.cli.main", *args],
            capture_output=True,
            text=True,
            timeout=120,
            env=full_env,
            check=False,
        )


@pytest.fixture(scope="module")
def api_server(control_plane: ControlPlane, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    for name in ("application", "appproject"):
        control_plane.kubectl("apply", "-f", "-", input=crd_text(name))
    for crd in ("applications.argoproj.io", "appprojects.argoproj.io"):
        control_plane.kubectl("wait", "--for=condition=Established", f"crd/{crd}", "--timeout=60s")
    ns = control_plane.new_namespace()
    control_plane.kubectl(
        "-n",
        ns,
        "create",
        "configmap",
        "argocd-cm",
        "--from-literal=accounts.ci=apiKey",
    )
    policy = "p, ci, applications, get, */*, allow\np, ci, applications, sync, */*, allow\n"
    control_plane.kubectl(
        "-n", ns, "create", "configmap", "argocd-rbac-cm", f"--from-literal=policy.csv={policy}"
    )
    tmp = tmp_path_factory.mktemp("api")
    port = free_port()
    audit = tmp / "audit.log"
    log = (tmp / "server.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-c", SERVER_SCRIPT, str(control_plane.kubeconfig), ns, str(port), str(audit)],
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise AssertionError("the API server did not start: " + (tmp / "server.log").read_text())
            time.sleep(0.2)
        yield Server(f"127.0.0.1:{port}", ns, audit, tmp / "config", control_plane)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        control_plane.kubectl("delete", "namespace", ns, "--wait=false", check=False)


def _initial_password(s: Server) -> str:
    data = s.plane.get_json("-n", s.namespace, "secret", "argocd-initial-admin-secret")["data"]["password"]
    return base64.b64decode(data).decode()


def test_cli_end_to_end(api_server: Server) -> None:
    s = api_server
    url = f"http://{s.address}"
    # unauthenticated -> 401
    assert httpx.get(f"{url}/api/v1/applications").status_code == 401
    r = s.cli("app", "list", "--server", s.address, "--plaintext", "--auth-token", "garbage")
    assert r.returncode == 20 and "Unauthenticated" in r.stderr

    r = s.cli("login", s.address, "--plaintext", "--username", "admin", "--password", _initial_password(s))
    assert r.returncode == 0, r.stderr
    r = s.cli(
        "app",
        "create",
        "guestbook",
        "--repo",
        "https://git.example.com/apps.git",
        "--path",
        "guestbook",
        "--dest-namespace",
        s.namespace,
        "--project",
        "default",
        "--label",
        "team=web",
    )
    assert r.returncode == 0, r.stderr
    r = s.cli("app", "list", "-l", "team=web")
    assert r.returncode == 0 and "guestbook" in r.stdout, r.stderr
    r = s.cli("app", "get", "guestbook", "-o", "json")
    assert json.loads(r.stdout)["spec"]["source"]["path"] == "guestbook"

    r = s.cli("app", "sync", "guestbook", "--async", "--prune")
    assert r.returncode == 0, r.stderr
    cr = s.plane.get_json("-n", s.namespace, "application", "guestbook")
    assert cr["operation"]["sync"]["prune"] is True
    assert cr["operation"]["initiatedBy"] == {"username": "admin"}
    events = s.plane.get_json(
        "-n", s.namespace, "events", "--field-selector", "involvedObject.name=guestbook"
    )
    assert any(e["message"].startswith("admin initiated sync") for e in events["items"])

    assert s.cli("app", "diff", "guestbook").returncode == 0
    status = {
        "status": {
            "sync": {"status": "OutOfSync"},
            "resources": [
                {
                    "group": "apps",
                    "version": "v1",
                    "kind": "Deployment",
                    "namespace": s.namespace,
                    "name": "guestbook-ui",
                    "status": "OutOfSync",
                }
            ],
        }
    }
    s.plane.kubectl(
        "-n", s.namespace, "patch", "application", "guestbook", "--type", "merge", "-p", json.dumps(status)
    )
    assert s.cli("app", "diff", "guestbook").returncode == 1

    # an apiKey account's token, then used through ARGOCD_AUTH_TOKEN
    r = s.cli("account", "generate-token", "--account", "ci")
    assert r.returncode == 0, r.stderr
    token = r.stdout.strip()
    base = ["--server", s.address, "--plaintext"]
    r = s.cli("app", "list", "-o", "name", *base, token=token)
    assert r.returncode == 0 and r.stdout.split() == ["guestbook"], r.stderr
    r = s.cli("app", "delete", "guestbook", "-y", *base, token=token)
    assert r.returncode == 20 and "PermissionDenied" in r.stderr
    forbidden = httpx.delete(
        f"{url}/api/v1/applications/guestbook", headers={"Authorization": f"Bearer {token}"}
    )
    assert forbidden.status_code == 403 and forbidden.json()["message"] == "permission denied"

    lines = [json.loads(line) for line in s.audit.read_text().splitlines()]
    assert any(e["action"] == "application.sync" and e["actor"] == "admin" for e in lines)
    assert any(
        e["action"] == "application.delete" and e["outcome"] == "denied" and e["actor"] == "ci" for e in lines
    )
    # no Secret data anywhere in the audit log
    assert _initial_password(s) not in s.audit.read_text()
