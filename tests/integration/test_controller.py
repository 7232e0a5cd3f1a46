"""The Application controller on the local control plane.

(a) the README's main job: ``argosy quickstart --exit-when-converged`` on a fresh cluster;
(b) new commits are auto-synced, production keeps what Git removed and reports it;
(c) self-heal reverts a ``kubectl patch`` and names the field and the manager;
(e) Git down: ComparisonError, nothing pruned, recovery;
(f) rollback holds auto-sync until the next commit.

Each in-process test runs its own controller on its own namespace (as the control namespace) with
the example's sync-policies ConfigMap, and its own destination namespaces.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import anyio
import pytest

from argosy import bootstrap
from argosy.adapters.render import RenderTools
from argosy.core.manifests import parse_manifests
from argosy.services.controller import ControllerSettings
from argosy.services.memory_history import MemoryHistoryStore
from tests.support.cluster import ControlPlane
from tests.support.gitserver import BareRepo, GitServer

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
PLATFORM = ROOT / "examples" / "sophia-platform"
ARGOSY = ROOT / ".venv" / "bin" / "argosy"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _configmap(name: str, data: dict[str, str]) -> str:
    return json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data})


def _deployment(image: str = "nginx:1.27") -> str:
    return json.dumps(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web"},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "web", "image": image}]},
                },
            },
        }
    )


def _application(name: str, ns: str, repo_url: str, dest: str, environment: str) -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {
            "name": name,
            "namespace": ns,
            "labels": {"environment": environment},
            "finalizers": ["resources-finalizer.argocd.argoproj.io"],
        },
        "spec": {
            "project": "default",
            "source": {"repoURL": repo_url, "targetRevision": "main", "path": "app"},
            "destination": {"server": "https://kubernetes.default.svc", "namespace": dest},
        },
    }


class Env:
    def __init__(self, cp: ControlPlane, ns: str) -> None:
        self.cp = cp
        self.ns = ns

    def app(self, name: str) -> dict[str, Any]:
        result: dict[str, Any] = self.cp.get_json("-n", self.ns, "application", name)
        return result

    def apply(self, obj: dict[str, Any]) -> None:
        self.cp.kubectl("apply", "-f", "-", input=json.dumps(obj))

    def refresh(self, name: str, kind: str = "normal") -> None:
        self.cp.kubectl(
            "-n",
            self.ns,
            "annotate",
            "--overwrite",
            "application",
            name,
            f"argocd.argoproj.io/refresh={kind}",
        )

    async def wait(self, what: str, predicate: Callable[[], Any], timeout: float = 90.0) -> Any:
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            last = await anyio.to_thread.run_sync(predicate)
            if last:
                return last
            await anyio.sleep(0.3)
        raise AssertionError(f"timed out waiting for {what} (last: {last!r})")

    def synced_healthy(self, name: str, revision: str | None = None) -> bool:
        status = self.app(name).get("status") or {}
        sync = status.get("sync") or {}
        return (
            sync.get("status") == "Synced"
            and (status.get("health") or {}).get("status") == "Healthy"
            and (revision is None or sync.get("revision") == revision)
            and (status.get("operationState") or {}).get("phase") in (None, "Succeeded")
        )

    def exists(self, kind: str, name: str, namespace: str) -> bool:
        return self.cp.kubectl("-n", namespace, "get", kind, name, check=False).returncode == 0

    def data(self, name: str, namespace: str) -> dict[str, str]:
        if not self.exists("configmap", name, namespace):
            return {}
        result: dict[str, str] = self.cp.get_json("-n", namespace, "configmap", name).get("data") or {}
        return result


def _setup_namespace(cp: ControlPlane, ns: str, repo: BareRepo | None, git_server: GitServer | None) -> None:
    """The example's sync-policies ConfigMap and, for an HTTP repository, its repository Secret."""
    (policies,) = parse_manifests((PLATFORM / "argocd/config/sync-policies.yaml").read_text(), file="sp.yaml")
    policies["metadata"]["namespace"] = ns
    cp.kubectl("apply", "-f", "-", input=json.dumps(policies))
    if repo is not None and git_server is not None:
        secret = {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {
                "name": f"repo-{uuid.uuid4().hex[:6]}",
                "namespace": ns,
                "labels": {"argocd.argoproj.io/secret-type": "repository"},
            },
            "stringData": {
                "type": "git",
                "url": repo.http_url,
                "username": git_server.username,
                "password": git_server.password,
            },
        }
        cp.kubectl("apply", "-f", "-", input=json.dumps(secret))


@contextlib.asynccontextmanager
async def running_controller(cp: ControlPlane, ns: str, tmp: Path, **overrides: Any) -> AsyncIterator[Any]:
    tools = RenderTools(helm=cp.bin_dir / "helm", kubectl=cp.bin_dir / "kubectl")
    settings = ControllerSettings(
        namespace=ns,
        workers=4,
        wave_delay=overrides.pop("wave_delay", 0.2),
        poll_interval=0.2,
        reconciliation_timeout=overrides.pop("reconciliation_timeout", 30.0),
        **overrides,
    )
    async with (
        bootstrap.runtime(
            kubeconfig=str(cp.kubeconfig),
            namespace=ns,
            state_dir=tmp,
            leader_election=False,
            settings=settings,
            history=MemoryHistoryStore(),
            tools=tools,
        ) as rt,
        anyio.create_task_group() as tg,
    ):
        tg.start_soon(bootstrap.run_controller, rt)
        try:
            yield rt
        finally:
            rt.stop()


@pytest.fixture(scope="module")
def crds(control_plane: ControlPlane) -> None:
    anyio.run(bootstrap.install_cluster, str(control_plane.kubeconfig), "argocd")


def _dest(cp: ControlPlane) -> str:
    return cp.new_namespace()


# --- (a) ----------------------------------------------------------------------------------------------


def test_quickstart_converges_the_example_platform(tmp_path: Path) -> None:
    name = f"pytest-qs-{os.getpid()}"
    try:
        done = subprocess.run(
            [
                str(ARGOSY),
                "quickstart",
                "--name",
                name,
                "--exit-when-converged",
                "--timeout",
                "420",
                "--state-dir",
                str(tmp_path),
            ],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
    finally:
        subprocess.run([str(ARGOSY), "cluster", "down", "--name", name], capture_output=True, check=False)
    print(done.stderr[-3000:], file=sys.stderr)
    assert done.returncode == 0, done.stderr[-3000:]
    apps = [
        "artemis-orchestrator-development",
        "artemis-orchestrator-staging",
        "artemis-orchestrator-production",
        "sophia-api-development",
        "sophia-api-staging",
        "sophia-api-production",
        "infrastructure-namespaces",
        "infrastructure-monitoring",
    ]
    for app in apps:
        (line,) = [ln for ln in done.stdout.splitlines() if f" {app} " in ln]
        assert "Synced" in line and "Healthy" in line, line
    assert (tmp_path / "argosy.db").exists()


# --- (b) ----------------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_new_commit_auto_synced_and_production_keeps_removed(
    control_plane: ControlPlane,
    namespace: str,
    git_server: GitServer,
    git_repo: BareRepo,
    crds: None,
    tmp_path: Path,
) -> None:
    cp, ns = control_plane, namespace
    env = Env(cp, ns)
    _setup_namespace(cp, ns, git_repo, git_server)
    first = git_repo.commit_files(
        {
            "app/settings.yaml": _configmap("settings", {"v": "1"}),
            "app/extra.yaml": _configmap("extra", {"x": "1"}),
        },
        "v1",
    )
    dests = {env_name: _dest(cp) for env_name in ("development", "staging", "production")}
    for env_name, dest in dests.items():
        env.apply(_application(f"b-{env_name}", ns, git_repo.http_url, dest, env_name))
    async with running_controller(cp, ns, tmp_path):
        for env_name in dests:
            await env.wait(f"b-{env_name} synced", lambda n=env_name: env.synced_healthy(f"b-{n}", first))
        second = git_repo.commit_files(
            {"app/settings.yaml": _configmap("settings", {"v": "2"})}, "v2", replace=True
        )
        for env_name in dests:
            env.refresh(f"b-{env_name}")
        for env_name in ("development", "staging"):
            await env.wait(
                f"b-{env_name} at v2",
                lambda n=env_name: (
                    env.synced_healthy(f"b-{n}", second)
                    and env.data("settings", dests[n]) == {"v": "2"}
                    and not env.exists("configmap", "extra", dests[n])
                ),
            )
        # production: settings updated (self-heal/auto-sync), extra kept and reported
        prod = dests["production"]
        await env.wait("production settings v2", lambda: env.data("settings", prod) == {"v": "2"})

        def reported() -> bool:
            status = env.app("b-production").get("status") or {}
            extra = [r for r in status.get("resources") or [] if r.get("name") == "extra"]
            return (
                (status.get("sync") or {}).get("status") == "OutOfSync"
                and bool(extra)
                and extra[0].get("requiresPruning") is True
            )

        await env.wait("production reports extra as requiring pruning", reported)
        assert env.exists("configmap", "extra", prod)
        annotations = env.app("b-production")["metadata"].get("annotations") or {}
        assert "argocd.argoproj.io/refresh" not in annotations


# --- (c) ----------------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_self_heal_reverts_kubectl_patch_and_names_the_manager(
    control_plane: ControlPlane,
    namespace: str,
    git_server: GitServer,
    git_repo: BareRepo,
    crds: None,
    tmp_path: Path,
) -> None:
    cp, ns = control_plane, namespace
    env = Env(cp, ns)
    _setup_namespace(cp, ns, git_repo, git_server)
    sha = git_repo.commit_files({"app/web.yaml": _deployment()}, "web")
    dest = _dest(cp)
    env.apply(_application("c-staging", ns, git_repo.http_url, dest, "staging"))
    async with running_controller(cp, ns, tmp_path):
        await env.wait("synced", lambda: env.synced_healthy("c-staging", sha))
        patch = {"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "evil:latest"}]}}}}
        cp.kubectl("-n", dest, "patch", "deployment", "web", "--type", "strategic", "-p", json.dumps(patch))

        def image() -> str:
            d = cp.get_json("-n", dest, "deployment", "web")
            return str(d["spec"]["template"]["spec"]["containers"][0]["image"])

        await env.wait("image reverted", lambda: image() == "nginx:1.27", timeout=60)
        drift = (env.app("c-staging")["status"].get("argosy") or {}).get("drift") or {}
        fields = drift.get("fields") or []
        assert any("image" in f["path"] and f["manager"] == "kubectl-patch" for f in fields), drift


# --- (e) ----------------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_git_down_comparison_error_nothing_pruned_then_recovers(
    control_plane: ControlPlane, namespace: str, crds: None, tmp_path: Path
) -> None:
    cp, ns = control_plane, namespace
    env = Env(cp, ns)
    _setup_namespace(cp, ns, None, None)
    base = tmp_path / "git"
    source = tmp_path / "src"
    (source / "app").mkdir(parents=True)
    (source / "app" / "settings.yaml").write_text(_configmap("settings", {"v": "1"}))
    sha = bootstrap.publish_directory(source, base, "e.git")
    daemon = bootstrap.GitDaemon(base).start()
    try:
        dest = _dest(cp)
        env.apply(_application("e-development", ns, f"{daemon.url}/e.git", dest, "development"))
        async with running_controller(cp, ns, tmp_path / "state"):
            await env.wait("synced", lambda: env.synced_healthy("e-development", sha))
            daemon.stop()

            def comparison_error() -> bool:
                conditions = (env.app("e-development").get("status") or {}).get("conditions") or []
                return any(c.get("type") == "ComparisonError" for c in conditions)

            env.refresh("e-development", "hard")
            await env.wait("ComparisonError", comparison_error)
            assert env.data("settings", dest) == {"v": "1"}
            daemon.start()
            env.refresh("e-development")
            await env.wait(
                "recovered", lambda: not comparison_error() and env.synced_healthy("e-development")
            )
            assert env.data("settings", dest) == {"v": "1"}
    finally:
        daemon.stop()


# --- (f) ----------------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_rollback_holds_until_the_next_commit(
    control_plane: ControlPlane,
    namespace: str,
    git_server: GitServer,
    git_repo: BareRepo,
    crds: None,
    tmp_path: Path,
) -> None:
    cp, ns = control_plane, namespace
    env = Env(cp, ns)
    _setup_namespace(cp, ns, git_repo, git_server)
    v1 = git_repo.commit_files({"app/settings.yaml": _configmap("settings", {"v": "1"})}, "v1")
    dest = _dest(cp)
    env.apply(_application("f-development", ns, git_repo.http_url, dest, "development"))
    async with running_controller(cp, ns, tmp_path) as rt:
        await env.wait("v1", lambda: env.synced_healthy("f-development", v1))
        v2 = git_repo.commit_files(
            {"app/settings.yaml": _configmap("settings", {"v": "2"})}, "v2", replace=True
        )
        env.refresh("f-development")
        await env.wait("v2", lambda: env.synced_healthy("f-development", v2))
        history = env.app("f-development")["status"]["history"]
        (entry,) = [h for h in history if h["revision"] == v1]
        operation = {
            "operation": {
                "sync": {"revision": v1},
                "initiatedBy": {"username": "tester"},
                "info": [{"name": "rollback", "value": str(entry["id"])}],
            }
        }
        cp.kubectl(
            "-n", ns, "patch", "application", "f-development", "--type", "merge", "-p", json.dumps(operation)
        )
        await env.wait("rolled back to v1", lambda: env.data("settings", dest) == {"v": "1"})

        def held() -> Any:
            status = env.app("f-development")["status"]
            return (status.get("argosy") or {}).get("rollbackHold")

        hold = await env.wait("rollback hold", held)
        assert hold["revision"] == v2 and hold["historyId"] == entry["id"]
        env.refresh("f-development")
        await anyio.sleep(4)
        assert env.data("settings", dest) == {"v": "1"}, "auto-sync must hold after a rollback"
        app = env.app("f-development")
        assert app["status"]["sync"]["status"] == "OutOfSync"
        # The history store (DORA): the rollback counts as restored once v1 runs Healthy, although
        # the app stays OutOfSync with Git; each deployment carries its commit's date (lead time).
        records = await rt.history.deployments(app_name="f-development")
        (rollback,) = [r for r in records if r.rollback]
        assert rollback.revision == v1 and rollback.succeeded and rollback.healthy_at is not None
        assert all(r.commit_time is not None for r in records), records
        git_repo.commit_files({"app/settings.yaml": _configmap("settings", {"v": "3"})}, "v3", replace=True)
        env.refresh("f-development")
        await env.wait("v3 deployed", lambda: env.data("settings", dest) == {"v": "3"} and not held())
