"""``argosy controller --metrics-port`` serves /metrics (Argo CD's names), /healthz and /readyz."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from argosy.deploy import CRD_NAMES, crd_text
from tests.support.cluster import ControlPlane

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_controller_serves_metrics_and_health(
    control_plane: ControlPlane, namespace: str, tmp_path: Path
) -> None:
    for name in CRD_NAMES:
        control_plane.kubectl("apply", "--server-side", "-f", "-", input=crd_text(name))
    port = _free_port()
    log = (tmp_path / "controller.log").open("w")
    proc = subprocess.Popen(
        [
            str(ROOT / ".venv" / "bin" / "argosy"),
            "controller",
            "--kubeconfig",
            str(control_plane.kubeconfig),
            "--namespace",
            namespace,
            "--no-leader-election",
            "--state-dir",
            str(tmp_path / "state"),
            "--metrics-port",
            str(port),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 90
        metrics = None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2)
            except httpx.HTTPError:
                time.sleep(0.5)
                continue
            metrics = answer
            break
        assert metrics is not None, (tmp_path / "controller.log").read_text()
        assert metrics.status_code == 200
        assert metrics.headers["content-type"].startswith("text/plain; version=0.0.4")
        for name in ("argocd_app_info", "argocd_app_sync_total", "argocd_app_reconcile"):
            assert f"# TYPE {name}" in metrics.text
        assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).text == "ok\n"
        assert httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        log.close()
