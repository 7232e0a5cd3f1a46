"""``argosy server`` as a process: ``GET /metrics`` and the notifier wiring.

The server (controller + API on 127.0.0.1) runs against the local control plane with an
``argocd-notifications-cm`` whose webhook service points at a loopback receiver
(tests/support/receivers.py). An auto-synced Application must show up in the exposition
(``argocd_app_info`` Synced, ``argocd_app_sync_total`` Succeeded) and its successful sync must reach
the webhook through the SQL outbox. The process runs in its own group, killed in a ``finally`` block.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from argosy import bootstrap
from tests.integration.test_controller import Env, _configmap, _setup_namespace, crds  # noqa: F401
from tests.integration.test_controller_processes import application, publish, wait
from tests.support.cluster import ControlPlane
from tests.support.receivers import HttpReceiver, free_port

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
ARGOSY = ROOT / ".venv" / "bin" / "argosy"
PROXY_VARS = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[bootstrap.GitDaemon]:
    (tmp_path / "git").mkdir()
    d = bootstrap.GitDaemon(tmp_path / "git").start()
    try:
        yield d
    finally:
        d.stop()


@pytest.fixture
def receiver() -> Iterator[HttpReceiver]:
    http = HttpReceiver(slack_token=uuid.uuid4().hex)
    http.start()
    try:
        yield http
    finally:
        http.stop()


def _notifications_cm(ns: str, url: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "argocd-notifications-cm", "namespace": ns},
        "data": {
            "service.webhook.recv": f"url: {url}\n",
            "template.app-synced": (
                "webhook:\n"
                "  recv:\n"
                "    method: POST\n"
                "    path: /synced\n"
                "    body: |\n"
                '      {"app": {{.app.metadata.name | toJson}}, '
                '"revision": {{.app.status.operationState.syncResult.revision | toJson}}}\n'
            ),
            "trigger.on-sync-succeeded": (
                "- when: app.status.operationState?.phase in ['Succeeded']\n"
                "  oncePer: app.status.operationState?.syncResult?.revision\n"
                "  send: [app-synced]\n"
            ),
        },
    }


def _series(text: str, metric: str) -> list[dict[str, str]]:
    """The label sets of ``metric``'s samples whose value is not 0."""
    found = []
    for line in text.splitlines():
        match = re.match(rf"^{metric}\{{(.*)\}} (\S+)$", line)
        if match and float(match.group(2)) != 0:
            found.append(dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', match.group(1))))
    return found


def test_server_exposes_metrics_and_delivers_notifications(
    control_plane: ControlPlane,
    namespace: str,
    daemon: bootstrap.GitDaemon,
    receiver: HttpReceiver,
    crds: None,  # noqa: F811  (the fixture imported above)
    tmp_path: Path,
) -> None:
    cp, ns = control_plane, namespace
    env = Env(cp, ns)
    _setup_namespace(cp, ns, None, None)
    env.apply(_notifications_cm(ns, receiver.url))
    sha = publish(tmp_path, {"settings.yaml": _configmap("settings", {"v": "1"})})
    dest = cp.new_namespace()
    name = f"m-{uuid.uuid4().hex[:6]}"
    app = application(name, ns, f"{daemon.url}/app.git", dest)
    app["metadata"]["annotations"] = {"notifications.argoproj.io/subscribe.on-sync-succeeded.recv": "recv"}
    env.apply(app)

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc_env = {k: v for k, v in os.environ.items() if k not in PROXY_VARS}
    proc_env["NO_PROXY"] = proc_env["no_proxy"] = "127.0.0.1,localhost"
    proc_env["PATH"] = f"{cp.bin_dir}{os.pathsep}{proc_env.get('PATH', '')}"
    log = tmp_path / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                str(ARGOSY),
                "server",
                "--kubeconfig",
                str(cp.kubeconfig),
                "--namespace",
                ns,
                "--port",
                str(port),
                "--no-leader-election",
                "--insecure",  # plain HTTP: this test is about metrics, test_server_tls.py about TLS
                "--state-dir",
                str(tmp_path / "state"),
                "--verbose",
            ],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=proc_env,
            start_new_session=True,
        )

    def alive() -> None:
        tail = log.read_text(errors="replace")[-3000:] if proc.poll() is not None else ""
        assert proc.poll() is None, f"server exited ({proc.returncode}):\n{tail}"

    def metrics() -> str:
        with contextlib.suppress(httpx.HTTPError):
            response = httpx.get(f"{base}/metrics", timeout=5, trust_env=False)
            if response.status_code == 200:
                assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
                return response.text
        return ""

    try:
        wait("app synced and healthy", lambda: env.synced_healthy(name, sha), timeout=180, alive=alive)

        def app_info() -> list[dict[str, str]]:
            return [s for s in _series(metrics(), "argocd_app_info") if s.get("name") == name]

        info = wait("argocd_app_info Synced", lambda: [s for s in app_info() if s["sync_status"] == "Synced"],
                    alive=alive)  # fmt: skip
        assert info[0]["namespace"] == ns
        assert info[0]["project"] == "default"
        assert info[0]["dest_namespace"] == dest
        assert info[0]["repo"] == f"{daemon.url}/app.git"
        text = metrics()
        synced = [s for s in _series(text, "argocd_app_sync_total") if s.get("name") == name]
        assert any(s["phase"] == "Succeeded" and s["dry_run"] == "false" for s in synced), synced
        assert not any(s["phase"] in ("Failed", "Error", "Rollback") for s in synced), synced
        assert re.search(rf'argocd_app_reconcile_count\{{[^}}]*namespace="{ns}"[^}}]*\}} [1-9]', text), (
            "no argocd_app_reconcile observation"
        )
        health = [s for s in _series(text, "argocd_app_health_status") if s.get("name") == name]
        assert [s["health_status"] for s in health] == ["Healthy"]

        # The notifier: the successful sync reached the webhook once (the outbox in the SQL store).
        hooks = wait("webhook notified", lambda: receiver.at("/synced"), alive=alive)
        assert json.loads(hooks[0].body) == {"app": name, "revision": sha}
        assert len(receiver.at("/synced")) == 1
        assert (tmp_path / "state" / "argosy.db").exists()
        deliveries = _series(metrics(), "argocd_notifications_deliveries_total")
        assert {"trigger": "on-sync-succeeded", "service": "recv", "succeeded": "true"} in deliveries

        # SIGTERM stops the controller, the notifier and the DORA publisher cleanly.
        os.killpg(proc.pid, signal.SIGTERM)
        assert proc.wait(timeout=60) == 0, log.read_text(errors="replace")[-3000:]
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        cp.kubectl("delete", "namespace", dest, "--wait=false", check=False)
