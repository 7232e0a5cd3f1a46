"""An ``argosy`` API server in a uvicorn subprocess, wired for SSO the way ``argosy server`` is.

``start_sso_server(plane, namespace, tmp)`` runs ``create_app(ApiDeps(..., sso=sso_backends()))`` (the
bootstrap's SSO wiring: LDAP through ``argosy.adapters.ldap``, OIDC/GitHub through
``argosy.adapters.oidc``) on a free 127.0.0.1 port over plain HTTP (``secure_cookies=False``), with the
audit log in ``tmp/audit.log``. The caller creates argocd-cm, argocd-rbac-cm and argocd-secret first;
the server adds the signing key and the initial admin password as at every start-up.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from argosy.deploy import crd_text
from tests.support.cluster import ControlPlane
from tests.unit.cli.serve import free_port

__all__ = ["SPEC_POLICY", "SsoApiServer", "install_crds", "seed_sso_namespace", "start_sso_server"]

SERVER_SCRIPT = """
import dataclasses, sys
import uvicorn
from argosy.adapters.audit import AuditEvent, AuditLogWriter
from argosy.adapters.kube import KubeClient
from argosy.api import ApiDeps, create_app
from argosy.bootstrap import sso_backends

kubeconfig, namespace, port, audit_path = sys.argv[1:5]
kube = KubeClient.from_kubeconfig(kubeconfig)
writer = AuditLogWriter(audit_path)
app = create_app(ApiDeps(kube=kube, namespace=namespace, secure_cookies=False, sso=sso_backends(),
                         audit=lambda e: writer.write(AuditEvent(**dataclasses.asdict(e)))))
uvicorn.run(app, host="127.0.0.1", port=int(port), log_level="warning")
"""


@dataclass
class SsoApiServer:
    port: int
    namespace: str
    audit: Path
    config: Path
    log: Path
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.address}"

    def cli(
        self, *args: str, token: str | None = None, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        extra = env or {}
        env = {k: v for k, v in os.environ.items() if not k.startswith(("ARGOCD_", "ARGOSY_"))}
        env.update({"ARGOSY_CONFIG": str(self.config), "ARGOSY_POLL_INTERVAL": "0.2", **extra})
        if token:
            env["ARGOCD_AUTH_TOKEN"] = token
        return subprocess.run(
            [sys.executable, "-m", "argosy.cli.main", *args],
            capture_output=True,
            text=True,
            timeout=120,
            env=env,
            check=False,
        )

    def stop(self) -> None:
        proc, self.process = self.process, None
        if proc is None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def install_crds(plane: ControlPlane) -> None:
    for name in ("application", "appproject"):
        plane.kubectl("apply", "-f", "-", input=crd_text(name))
    for crd in ("applications.argoproj.io", "appprojects.argoproj.io"):
        plane.kubectl("wait", "--for=condition=Established", f"crd/{crd}", "--timeout=60s")


def start_sso_server(plane: ControlPlane, namespace: str, tmp: Path, port: int | None = None) -> SsoApiServer:
    port = port or free_port()
    server = SsoApiServer(port, namespace, tmp / "audit.log", tmp / "config", tmp / "server.log")
    with server.log.open("w") as log:
        server.process = subprocess.Popen(
            [
                sys.executable,
                "-c",
                SERVER_SCRIPT,
                str(plane.kubeconfig),
                namespace,
                str(port),
                str(server.audit),
            ],
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
    deadline = time.monotonic() + 90  # a loaded 2-core machine
    while True:
        try:
            if httpx.get(f"{server.url}/readyz", timeout=2).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline or server.process.poll() is not None:
            server.stop()
            raise AssertionError("the API server did not start: " + server.log.read_text())
        time.sleep(0.2)


SPEC_POLICY = """\
# spec §6.1 (the lines these tests exercise)
p, role:platform-admin, applications, *, */*, allow
g, sophia-intel-ai:platform-admins, role:platform-admin

p, role:artemis-team, applications, get, artemis/*, allow
p, role:artemis-team, applications, sync, artemis/*, allow
p, role:artemis-team, applications, action/*, artemis/*, allow
p, role:artemis-team, logs, get, artemis/*, allow
p, role:artemis-team, exec, create, artemis/*, deny  # No exec in prod
g, sophia-intel-ai:artemis-developers, role:artemis-team

p, role:sophia-team, applications, get, sophia/*, allow
p, role:sophia-team, applications, sync, sophia/*, allow
g, sophia-intel-ai:sophia-developers, role:sophia-team

p, role:readonly, applications, get, */*, allow
g, sophia-intel-ai:developers, role:readonly
"""


def seed_sso_namespace(
    plane: ControlPlane, cm: dict[str, str], secret: dict[str, str], rbac: dict[str, str]
) -> str:
    """A fresh namespace with argocd-cm, argocd-rbac-cm, argocd-secret (values given in clear), the
    AppProjects ``artemis`` and ``sophia`` and one Application in each (``artemis-web``, ``sophia-web``)."""
    install_crds(plane)
    ns = plane.new_namespace()
    meta = {"namespace": ns, "labels": {"app.kubernetes.io/part-of": "argocd"}}
    objs: list[dict[str, object]] = [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "argocd-cm", **meta}, "data": cm},
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "argocd-rbac-cm", **meta},
            "data": rbac,
        },
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "argocd-secret", **meta},
            "stringData": secret,
        },
    ]
    for project in ("artemis", "sophia"):
        objs.append(
            {
                "apiVersion": "argoproj.io/v1alpha1",
                "kind": "AppProject",
                "metadata": {"name": project, "namespace": ns},
                "spec": {"sourceRepos": ["*"], "destinations": [{"server": "*", "namespace": "*"}]},
            }
        )
        objs.append(
            {
                "apiVersion": "argoproj.io/v1alpha1",
                "kind": "Application",
                "metadata": {"name": f"{project}-web", "namespace": ns},
                "spec": {
                    "project": project,
                    "source": {"repoURL": "https://git.example.com/apps.git", "path": project},
                    "destination": {"server": "https://kubernetes.default.svc", "namespace": project},
                },
            }
        )
    plane.kubectl("apply", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List", "items": objs}))
    return ns
