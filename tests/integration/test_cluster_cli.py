"""``argosy cluster up|status|kubeconfig|down`` as a user runs them, on a second named cluster that
runs beside the session's one."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from argosy.adapters.localcluster import plane
from tests.support.cluster import ControlPlane

pytestmark = pytest.mark.integration


def _argosy(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "argosy.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_second_cluster_up_status_down(control_plane: ControlPlane) -> None:
    name = f"cli-{int(time.time())}"
    started = time.monotonic()
    up = _argosy("cluster", "up", "--name", name)
    up_seconds = time.monotonic() - started
    try:
        assert up.returncode == 0, up.stderr
        kubeconfig = _argosy("cluster", "kubeconfig", "--name", name).stdout.strip()
        assert kubeconfig == up.stdout.strip()
        nodes = subprocess.run(
            [
                str(control_plane.bin_dir / "kubectl"),
                "--kubeconfig",
                kubeconfig,
                "get",
                "nodes",
                "--no-headers",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert "kwok-node-0" in nodes and " Ready " in f" {nodes} "
        status = _argosy("cluster", "status", "--name", name, "-o", "json")
        assert status.returncode == 0
        info = json.loads(status.stdout)
        assert info["ready"] is True
        assert set(info["components"]) == set(plane.START_ORDER)
        assert all(info["components"].values())
        # It is a different cluster from the session's one.
        assert info["server"] != control_plane.server
        state = plane.load_state(name)
        assert state is not None
        pids = dict(state.pids)
        ports = dict(state.ports)
    finally:
        down = _argosy("cluster", "down", "--name", name)
    assert down.returncode == 0, down.stderr
    for component, pid in pids.items():
        assert not plane.pid_alive(pid), f"{component} (pid {pid}) still runs after down"
    for port_name, port in ports.items():
        assert not plane.port_listening(port), f"{port_name} port {port} still listens after down"
    assert plane.load_state(name) is None
    assert _argosy("cluster", "status", "--name", name).returncode == 1
    # The startup time with cached binaries is printed for docs/operations.md.
    print(f"argosy cluster up (cached binaries) took {up_seconds:.1f}s")


def test_port_clash_is_reported_clearly(control_plane: ControlPlane) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = _argosy("cluster", "up", "--name", "clash", "--port", str(port), timeout=120)
    assert result.returncode == 20
    assert f"127.0.0.1:{port} is already in use" in result.stderr
    assert plane.load_state("clash") is None or not Path(plane.cluster_dir("clash") / "cluster.json").exists()


def test_status_of_unknown_cluster() -> None:
    result = _argosy("cluster", "status", "--name", "no-such-cluster")
    assert result.returncode == 1
    assert "not running" in result.stdout
