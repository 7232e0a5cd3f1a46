"""Terminating a running operation (``status.operationState.phase: Terminating``).

A manual sync has three waves: a ConfigMap (wave 0), a Sync hook Pod that never completes (wave 1:
kwok keeps a bare pod Running, and a ``restartPolicy: Never`` pod hook that runs is Progressing) and
a ConfigMap (wave 2). While the sync waits for the hook, the operation is terminated, once with
``kubectl patch`` of the status and once with ``argosy app terminate-op`` through the API server.
Either way the controller ends the operation as Argo CD does: phase Failed, message "Operation
terminated", the running hook deleted ("Deleted"), ``.operation`` removed, wave 2 never applied and
no retry.
"""

from __future__ import annotations

import base64
import contextlib
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from argosy import bootstrap
from tests.integration.test_api_cli import SERVER_SCRIPT, Server
from tests.integration.test_controller import (  # noqa: F401
    Env,
    _configmap,
    _setup_namespace,
    crds,
    running_controller,
)
from tests.integration.test_controller_processes import publish
from tests.support.cluster import ControlPlane
from tests.unit.cli.serve import free_port

pytestmark = pytest.mark.integration


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[bootstrap.GitDaemon]:
    (tmp_path / "git").mkdir()
    d = bootstrap.GitDaemon(tmp_path / "git").start()
    try:
        yield d
    finally:
        d.stop()


def _waved(obj: str, wave: int) -> str:
    data = json.loads(obj)
    data["metadata"].setdefault("annotations", {})["argocd.argoproj.io/sync-wave"] = str(wave)
    return json.dumps(data)


def _blocking_hook() -> str:
    return json.dumps(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": "blocker",
                "annotations": {
                    "argocd.argoproj.io/hook": "Sync",
                    "argocd.argoproj.io/sync-wave": "1",
                },
            },
            "spec": {
                "restartPolicy": "Never",
                "containers": [{"name": "main", "image": "busybox:1.36", "command": ["sleep", "3600"]}],
            },
        }
    )


FILES = {
    "first.yaml": _waved(_configmap("first", {"wave": "0"}), 0),
    "hook.yaml": _blocking_hook(),
    "later.yaml": _waved(_configmap("later", {"wave": "2"}), 2),
}


def _application(name: str, ns: str, repo_url: str, dest: str) -> dict[str, Any]:
    """A manual-sync application (no environment label, no automated policy)."""
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "project": "default",
            "source": {"repoURL": repo_url, "targetRevision": "main", "path": "app"},
            "destination": {"server": "https://kubernetes.default.svc", "namespace": dest},
        },
    }


def _operation_state(env: Env, name: str) -> dict[str, Any]:
    state: dict[str, Any] = (env.app(name).get("status") or {}).get("operationState") or {}
    return state


async def _wait_hook_running(env: Env, name: str, dest: str) -> None:
    def waiting() -> bool:
        state = _operation_state(env, name)
        return (
            state.get("phase") == "Running"
            and env.exists("pod", "blocker", dest)
            and env.data("first", dest) == {"wave": "0"}
        )

    await env.wait("the sync waiting for the wave-1 hook", waiting)


async def _assert_terminated(env: Env, name: str, dest: str) -> None:
    def finished() -> dict[str, Any] | None:
        state = _operation_state(env, name)
        return state if state.get("phase") == "Failed" else None

    state = await env.wait("the operation to end", finished, timeout=60)
    assert state["message"] == "Operation terminated", state
    assert state.get("finishedAt"), state
    hooks = [r for r in state["syncResult"]["resources"] if r.get("name") == "blocker"]
    assert hooks and hooks[0]["message"] == "Deleted", state["syncResult"]
    await env.wait("the running hook deleted", lambda: not env.exists("pod", "blocker", dest), timeout=30)
    assert "operation" not in env.app(name)
    # No later wave, no retry: wave 2 is never written.
    await anyio.sleep(3)
    assert not env.exists("configmap", "later", dest)
    assert _operation_state(env, name)["phase"] == "Failed"
    assert env.data("first", dest) == {"wave": "0"}


@pytest.mark.anyio
async def test_terminate_with_kubectl_patch_stops_before_the_next_wave(
    control_plane: ControlPlane,
    namespace: str,
    crds: None,  # noqa: F811
    tmp_path: Path,
    daemon: bootstrap.GitDaemon,
) -> None:
    cp, ns = control_plane, namespace
    env = Env(cp, ns)
    _setup_namespace(cp, ns, None, None)
    publish(tmp_path, FILES)
    dest = cp.new_namespace()
    env.apply(_application("t-patch", ns, f"{daemon.url}/app.git", dest))
    async with running_controller(cp, ns, tmp_path / "state"):
        await env.wait("compared", lambda: (env.app("t-patch").get("status") or {}).get("sync"))
        operation = {"operation": {"sync": {}, "initiatedBy": {"username": "tester"}}}
        cp.kubectl(
            "-n", ns, "patch", "application", "t-patch", "--type", "merge", "-p", json.dumps(operation)
        )
        await _wait_hook_running(env, "t-patch", dest)
        terminating = {"status": {"operationState": {"phase": "Terminating"}}}
        cp.kubectl(
            "-n", ns, "patch", "application", "t-patch", "--type", "merge", "-p", json.dumps(terminating)
        )
        await _assert_terminated(env, "t-patch", dest)


@contextlib.contextmanager
def _api_server(cp: ControlPlane, ns: str, tmp: Path) -> Iterator[Server]:
    port = free_port()
    log_path = tmp / "server.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-c", SERVER_SCRIPT, str(cp.kubeconfig), ns, str(port), str(tmp / "audit.log")],
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
        try:
            deadline = time.monotonic() + 30
            while True:
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                        break
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise AssertionError("the API server did not start: " + log_path.read_text())
                time.sleep(0.2)
            server = Server(f"127.0.0.1:{port}", ns, tmp / "audit.log", tmp / "config", cp)
            secret = cp.get_json("-n", ns, "secret", "argocd-initial-admin-secret")
            password = base64.b64decode(secret["data"]["password"]).decode()
            done = server.cli(
                "login", server.address, "--plaintext", "--username", "admin", "--password", password
            )
            assert done.returncode == 0, done.stderr
            yield server
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.mark.anyio
async def test_terminate_op_cli_end_to_end(
    control_plane: ControlPlane,
    namespace: str,
    crds: None,  # noqa: F811
    tmp_path: Path,
    daemon: bootstrap.GitDaemon,
) -> None:
    cp, ns = control_plane, namespace
    env = Env(cp, ns)
    _setup_namespace(cp, ns, None, None)
    publish(tmp_path, FILES)
    dest = cp.new_namespace()
    env.apply(_application("t-cli", ns, f"{daemon.url}/app.git", dest))
    (tmp_path / "api").mkdir()
    with _api_server(cp, ns, tmp_path / "api") as server:
        async with running_controller(cp, ns, tmp_path / "state"):
            await env.wait("compared", lambda: (env.app("t-cli").get("status") or {}).get("sync"))
            done = server.cli("app", "sync", "t-cli", "--async")
            assert done.returncode == 0, done.stderr
            await _wait_hook_running(env, "t-cli", dest)
            done = server.cli("app", "terminate-op", "t-cli")
            assert done.returncode == 0, done.stderr
            assert "operation terminating" in done.stdout
            await _assert_terminated(env, "t-cli", dest)
            done = server.cli("app", "terminate-op", "t-cli")
            assert done.returncode != 0
            assert "No operation is in progress" in done.stderr


@pytest.mark.anyio
async def test_terminate_op_cli_stops_an_automated_sync(
    control_plane: ControlPlane,
    namespace: str,
    crds: None,  # noqa: F811
    tmp_path: Path,
    daemon: bootstrap.GitDaemon,
) -> None:
    """An automated sync has no ``.operation``; the API accepts the request while it runs."""
    cp, ns = control_plane, namespace
    env = Env(cp, ns)
    _setup_namespace(cp, ns, None, None)
    publish(tmp_path, FILES)
    dest = cp.new_namespace()
    app = _application("t-auto", ns, f"{daemon.url}/app.git", dest)
    app["spec"]["syncPolicy"] = {"automated": {}}
    env.apply(app)
    (tmp_path / "api").mkdir()
    with _api_server(cp, ns, tmp_path / "api") as server:
        async with running_controller(cp, ns, tmp_path / "state"):
            await _wait_hook_running(env, "t-auto", dest)
            assert "operation" not in env.app("t-auto")
            done = server.cli("app", "terminate-op", "t-auto")
            assert done.returncode == 0, done.stderr
            await _assert_terminated(env, "t-auto", dest)
            # Not retried by auto-sync either: the revision's operation failed (Argo CD).
            await anyio.sleep(2)
            assert not env.exists("configmap", "later", dest)
            assert not env.exists("pod", "blocker", dest)
