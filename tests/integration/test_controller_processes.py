"""The controller as a process (``argosy controller``), killed with SIGKILL.

(d) ``kill -9`` in the middle of a multi-wave sync, then a restart: the operation resumes from
    ``status.argosy.operationProgress`` and completes; the PreSync hook Job that already succeeded is
    not run again (same uid: the default BeforeHookCreation policy would have replaced it);
(g) two controllers with leader election on one Lease: one holds it and reconciles, the other
    stands by; after ``kill -9`` of the leader the other takes the Lease over once it expires and
    reconciles a new commit, and nothing is reconciled while the dead leader still holds the Lease.

Every controller runs in its own process group, killed in a ``finally`` block.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from argosy import bootstrap
from tests.integration.test_controller import Env, _configmap, _setup_namespace, crds  # noqa: F401
from tests.support.cluster import ControlPlane

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
ARGOSY = ROOT / ".venv" / "bin" / "argosy"
LEASE = "argosy-controller"


class Controllers:
    """``argosy controller`` subprocesses, each in its own process group, logs in files."""

    def __init__(self, cp: ControlPlane, ns: str, tmp: Path) -> None:
        self.cp = cp
        self.ns = ns
        self.tmp = tmp
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.logs: dict[str, Path] = {}

    def start(self, key: str, *args: str) -> subprocess.Popen[bytes]:
        log = self.tmp / f"{key}-{len(self.logs)}.log"
        self.logs[key] = log
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [
                    str(ARGOSY),
                    "controller",
                    "--kubeconfig",
                    str(self.cp.kubeconfig),
                    "--namespace",
                    self.ns,
                    "--workers",
                    "4",
                    "--state-dir",
                    str(self.tmp / f"state-{key}"),
                    "--verbose",
                    *args,
                ],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.procs[key] = proc
        return proc

    def kill(self, key: str) -> None:
        proc = self.procs.pop(key, None)
        if proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)

    def log(self, key: str) -> str:
        return self.logs[key].read_text(errors="replace")

    def alive(self, key: str) -> None:
        proc = self.procs[key]
        assert proc.poll() is None, f"controller {key} exited ({proc.returncode}):\n{self.log(key)[-3000:]}"

    def kill_all(self) -> None:
        for key in list(self.procs):
            self.kill(key)


@pytest.fixture
def controllers(control_plane: ControlPlane, namespace: str, tmp_path: Path) -> Iterator[Controllers]:
    ctl = Controllers(control_plane, namespace, tmp_path)
    try:
        yield ctl
    finally:
        ctl.kill_all()


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[bootstrap.GitDaemon]:
    (tmp_path / "git").mkdir()
    d = bootstrap.GitDaemon(tmp_path / "git").start()
    try:
        yield d
    finally:
        d.stop()


def wait(
    what: str, predicate: Callable[[], Any], timeout: float = 90.0, alive: Callable[[], None] | None = None
) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        if alive is not None:
            alive()
        last = predicate()
        if last:
            return last
        time.sleep(0.25)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


def publish(tmp: Path, files: dict[str, str]) -> str:
    source = tmp / f"src-{uuid.uuid4().hex[:6]}"
    (source / "app").mkdir(parents=True)
    for name, text in files.items():
        (source / "app" / name).write_text(text)
    return bootstrap.publish_directory(source, tmp / "git", "app.git")


def application(name: str, ns: str, repo_url: str, dest: str) -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": name, "namespace": ns, "labels": {"environment": "development"}},
        "spec": {
            "project": "default",
            "source": {"repoURL": repo_url, "targetRevision": "main", "path": "app"},
            "destination": {"server": "https://kubernetes.default.svc", "namespace": dest},
        },
    }


def waved_configmap(name: str, wave: int) -> str:
    return json.dumps(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": name, "annotations": {"argocd.argoproj.io/sync-wave": str(wave)}},
            "data": {"wave": str(wave)},
        }
    )


def presync_job(name: str) -> str:
    return json.dumps(
        {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": name, "annotations": {"argocd.argoproj.io/hook": "PreSync"}},
            "spec": {
                "backoffLimit": 0,
                "template": {
                    "spec": {
                        "restartPolicy": "Never",
                        "containers": [{"name": "main", "image": "busybox:1.36", "command": ["true"]}],
                    }
                },
            },
        }
    )


def _get(cp: ControlPlane, *args: str) -> Any:
    done = cp.kubectl("get", *args, "-o", "json", check=False)
    return json.loads(done.stdout) if done.returncode == 0 else None


# --- (d) ----------------------------------------------------------------------------------------------

WAVES = 6  # Sync waves 1..6, ConfigMaps; the controller waits 2 s (its default wave delay) between waves


def test_kill_9_mid_sync_resumes_without_rerunning_the_presync_hook(
    control_plane: ControlPlane,
    namespace: str,
    crds: None,  # noqa: F811
    tmp_path: Path,
    daemon: bootstrap.GitDaemon,
    controllers: Controllers,
) -> None:
    cp, ns = control_plane, namespace
    env = Env(cp, ns)
    _setup_namespace(cp, ns, None, None)
    files = {"pre.yaml": presync_job("pre")}
    files.update({f"cm-{w}.yaml": waved_configmap(f"cm-{w}", w) for w in range(1, WAVES + 1)})
    sha = publish(tmp_path, files)
    dest = cp.new_namespace()
    env.apply(application("d-app", ns, f"{daemon.url}/app.git", dest))
    controllers.start("first", "--no-leader-election")

    def progress() -> dict[str, Any]:
        status = env.app("d-app").get("status") or {}
        if (status.get("operationState") or {}).get("phase") != "Running":
            return {}
        state = ((status.get("argosy") or {}).get("operationProgress") or {}).get("state")
        return json.loads(state) if state else {}

    def past_presync() -> Any:
        state = progress()
        if int(state.get("wavesStarted", 0)) < 2:  # the PreSync wave finished, state persisted
            return None
        job = _get(cp, "-n", dest, "job", "pre")
        if job is None or (job.get("status") or {}).get("succeeded") != 1:
            return None
        return job

    job = wait("the sync past its PreSync phase", past_presync, alive=lambda: controllers.alive("first"))
    uid = job["metadata"]["uid"]
    controllers.kill("first")
    assert not env.exists("configmap", f"cm-{WAVES}", dest), "killed too late: the sync had finished"
    phase = ((env.app("d-app").get("status") or {}).get("operationState") or {}).get("phase")
    assert phase == "Running", phase

    controllers.start("second", "--no-leader-election")

    def succeeded() -> bool:
        status = env.app("d-app").get("status") or {}
        return (status.get("operationState") or {}).get("phase") == "Succeeded"

    wait(
        "the resumed operation to succeed", succeeded, timeout=120, alive=lambda: controllers.alive("second")
    )
    wait("synced and healthy", lambda: env.synced_healthy("d-app", sha))
    for w in range(1, WAVES + 1):
        assert env.data(f"cm-{w}", dest) == {"wave": str(w)}
    after = cp.get_json("-n", dest, "job", "pre")
    assert after["metadata"]["uid"] == uid, "the PreSync hook Job was created again"
    events = cp.get_json(
        "-n", dest, "events", "--field-selector", "involvedObject.kind=Job,involvedObject.name=pre"
    )
    pods_created = [e for e in events["items"] if e.get("reason") == "SuccessfulCreate"]
    assert len(pods_created) == 1, pods_created
    op = env.app("d-app")["status"]["operationState"]
    hooks = [r for r in op["syncResult"]["resources"] if r.get("name") == "pre"]
    assert hooks and hooks[0].get("hookPhase") == "Succeeded", hooks


# --- (g) ----------------------------------------------------------------------------------------------

LEASE_ARGS = ("--lease-duration", "6", "--renew-deadline", "4", "--retry-period", "1")


def test_two_controllers_one_leader_and_takeover_after_kill_9(
    control_plane: ControlPlane,
    namespace: str,
    crds: None,  # noqa: F811
    tmp_path: Path,
    daemon: bootstrap.GitDaemon,
    controllers: Controllers,
) -> None:
    cp, ns = control_plane, namespace
    env = Env(cp, ns)
    _setup_namespace(cp, ns, None, None)
    v1 = publish(tmp_path, {"settings.yaml": _configmap("settings", {"v": "1"})})
    dest = cp.new_namespace()
    env.apply(application("g-app", ns, f"{daemon.url}/app.git", dest))
    suffix = uuid.uuid4().hex[:6]
    ids = {"a": f"ctl-a-{suffix}", "b": f"ctl-b-{suffix}"}
    for key, identity in ids.items():
        controllers.start(key, "--identity", identity, *LEASE_ARGS)

    def both_alive() -> None:
        for key in ids:
            controllers.alive(key)

    def holder() -> str:
        lease = _get(cp, "-n", ns, "lease", LEASE)
        return str(((lease or {}).get("spec") or {}).get("holderIdentity") or "")

    first = wait("a holder of the Lease", lambda: holder() in ids.values() and holder(), alive=both_alive)
    leader = next(k for k, v in ids.items() if v == first)
    follower = next(k for k in ids if k != leader)
    wait("v1 synced", lambda: env.synced_healthy("g-app", v1) and env.data("settings", dest) == {"v": "1"})
    # Still one holder, the same; only it started reconciling.
    assert holder() == first
    became = "became the leader"
    assert f"{first} {became}" in controllers.log(leader), controllers.log(leader)[-3000:]
    assert became not in controllers.log(follower), controllers.log(follower)[-3000:]

    controllers.kill(leader)
    killed_at = time.monotonic()
    v2 = publish(tmp_path, {"settings.yaml": _configmap("settings", {"v": "2"})})
    env.refresh("g-app", "normal")
    # While the dead leader's Lease has not expired, nobody reconciles: read the app, then the Lease.
    while time.monotonic() - killed_at < 4:
        controllers.alive(follower)
        revision = ((env.app("g-app").get("status") or {}).get("sync") or {}).get("revision")
        if holder() != first:
            break
        assert revision == v1, "reconciled while the killed leader still held the Lease"
        time.sleep(0.25)

    def taken_over() -> bool:
        return holder() == ids[follower]

    wait(
        "the follower to take the Lease over",
        taken_over,
        timeout=6 + 1 + 10,
        alive=lambda: controllers.alive(follower),
    )
    assert f"{ids[follower]} {became}" in controllers.log(follower)
    env.refresh("g-app", "hard")
    wait(
        "v2 reconciled by the new leader",
        lambda: env.synced_healthy("g-app", v2) and env.data("settings", dest) == {"v": "2"},
        timeout=60,
        alive=lambda: controllers.alive(follower),
    )
    assert holder() == ids[follower]
