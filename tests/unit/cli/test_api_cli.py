"""The argosy CLI against the API server (uvicorn on 127.0.0.1) over the fake Kubernetes API."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from argosy.api import ApiDeps, create_app
from argosy.cli.main import app as cli
from tests.unit.api.fakes import ADMIN_PASSWORD, NOW, NS, FakeKube, seed
from tests.unit.cli.serve import serve

AV = "argoproj.io/v1alpha1"


@dataclass
class Env:
    server: str
    kube: FakeKube
    tokens: dict[str, str]
    config: Path

    def run(self, *args: str, who: str | None = "admin", env: dict[str, str] | None = None) -> Any:
        extra = ["--server", self.server, "--plaintext", "--config", str(self.config)]
        if who:
            extra += ["--auth-token", self.tokens[who]]
        full_env = {"ARGOSY_POLL_INTERVAL": "0.05", **(env or {})}
        return CliRunner().invoke(cli, [*args, *extra], env=full_env)


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    for var in ("ARGOCD_SERVER", "ARGOCD_AUTH_TOKEN", "ARGOSY_SERVER", "ARGOSY_AUTH_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    kube = FakeKube()
    tokens = seed(kube)
    app = create_app(ApiDeps(kube=kube, namespace=NS, clock=lambda: NOW, secure_cookies=False))
    with serve(app) as server:
        yield Env(server, kube, tokens, tmp_path / "config")


def _complete_operations(kube: FakeKube, phase: str) -> None:
    """Act as the controller: finish every requested operation at once with ``phase``."""
    original = kube.patch

    async def patch(
        api_version: str, kind: str, name: str, patch: Any, namespace: str | None = None, **kw: Any
    ) -> Any:
        result = await original(api_version, kind, name, patch, namespace, **kw)
        if kind == "Application" and isinstance(patch, dict) and patch.get("operation"):
            obj = kube.obj(AV, "Application", name)
            obj.pop("operation", None)
            obj["status"]["operationState"] = {
                "phase": phase,
                "message": "done" if phase == "Succeeded" else "one or more objects failed to apply",
                "startedAt": "2026-03-01T12:00:01Z",
                "finishedAt": "2026-03-01T12:00:02Z",
                "syncResult": {
                    "revision": "abc123",
                    "resources": [{"kind": "Deployment", "name": "web", "status": "Synced"}],
                },
            }
            obj["status"]["sync"] = {"status": "Synced"}
        return result

    kube.patch = patch  # type: ignore[method-assign]


def test_app_list_and_get(env: Env) -> None:
    r = env.run("app", "list")
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    assert lines[0].split()[:6] == ["NAME", "CLUSTER", "NAMESPACE", "PROJECT", "STATUS", "HEALTH"]
    assert [line.split()[0] for line in lines[1:]] == ["artemis-web", "artemis-worker", "sophia-api"]
    r = env.run("app", "list", "-l", "env=prod", "-o", "name")
    assert r.output.split() == ["artemis-web", "sophia-api"]
    r = env.run("app", "get", "artemis-web", "-o", "json")
    assert json.loads(r.output)["spec"]["project"] == "artemis"
    r = env.run("app", "get", "artemis-web")
    assert "Health Status:" in r.output and "Deployment" in r.output
    r = env.run("app", "get", "artemis-web", "-o", "tree")
    assert "Deployment/web" in r.output


def test_sync_waits_and_reports_phase(env: Env) -> None:
    _complete_operations(env.kube, "Succeeded")
    r = env.run("app", "sync", "artemis-web", "--prune", who="bot")
    assert r.exit_code == 0, r.output
    assert "Phase:" in r.output and "Succeeded" in r.output


def test_sync_failed_operation_exits_1(env: Env) -> None:
    _complete_operations(env.kube, "Failed")
    r = env.run("app", "sync", "artemis-web")
    assert r.exit_code == 1, r.output


def test_sync_async_writes_operation(env: Env) -> None:
    r = env.run(
        "app", "sync", "artemis-web", "--async", "--revision", "v1.2", "--resource", "apps:Deployment:web"
    )
    assert r.exit_code == 0, r.output
    op = env.kube.obj(AV, "Application", "artemis-web")["operation"]
    assert op["sync"]["revision"] == "v1.2"
    assert op["sync"]["resources"] == [
        {"group": "apps", "kind": "Deployment", "name": "web", "namespace": ""}
    ]


def test_forbidden_and_unauthenticated_exit_20(env: Env) -> None:
    r = env.run("app", "sync", "sophia-api", "--async", who="artemis")
    assert r.exit_code == 20
    assert "PermissionDenied" in r.output and "permission denied" in r.output
    r = env.run("app", "list", who=None)
    assert r.exit_code == 20
    r = CliRunner().invoke(
        cli,
        [
            "app",
            "list",
            "--server",
            env.server,
            "--plaintext",
            "--auth-token",
            "bad",
            "--config",
            str(env.config),
        ],
    )
    assert r.exit_code == 20 and "Unauthenticated" in r.output


def test_wait_default_timeout_and_degraded(env: Env) -> None:
    obj = env.kube.obj(AV, "Application", "artemis-web")
    obj["status"]["sync"] = {"status": "Synced"}
    r = env.run("app", "wait", "artemis-web", "--timeout", "5")
    assert r.exit_code == 0, r.output
    obj["status"]["sync"] = {"status": "OutOfSync"}
    r = env.run("app", "wait", "artemis-web", "--timeout", "1")
    assert r.exit_code == 1 and "timed out" in r.output
    r = env.run("app", "wait", "artemis-web", "--health", "--timeout", "5")
    assert r.exit_code == 0  # only health asked
    # Healthy -> Degraded while waiting for sync fails fast
    original = env.kube.get
    calls = {"n": 0}

    async def get(api_version: str, kind: str, name: str, namespace: str | None = None) -> Any:
        if kind == "Application" and name == "artemis-web":
            calls["n"] += 1
            if calls["n"] > 1:
                env.kube.obj(AV, "Application", name)["status"]["health"] = {"status": "Degraded"}
        return await original(api_version, kind, name, namespace)

    env.kube.get = get  # type: ignore[method-assign]
    r = env.run("app", "wait", "artemis-web", "--timeout", "30")
    assert r.exit_code == 1 and "Degraded" in r.output


def test_diff_exit_codes(env: Env) -> None:
    r = env.run("app", "diff", "artemis-web")
    assert r.exit_code == 1  # the Secret is OutOfSync
    assert "s3cr3t-live-value" not in r.output
    for res in env.kube.obj(AV, "Application", "artemis-web")["status"]["resources"]:
        res["status"] = "Synced"
    assert env.run("app", "diff", "artemis-web").exit_code == 0
    assert env.run("app", "diff", "no-such").exit_code == 2


def test_create_delete_history_rollback_terminate(env: Env) -> None:
    r = env.run(
        "app",
        "create",
        "new-app",
        "--repo",
        "https://x/r.git",
        "--path",
        "p",
        "--dest-namespace",
        "n",
        "--project",
        "artemis",
        "--sync-policy",
        "automated",
        "--self-heal",
        "--label",
        "a=b",
    )
    assert r.exit_code == 0, r.output
    spec = env.kube.obj(AV, "Application", "new-app")["spec"]
    assert spec["syncPolicy"]["automated"] == {"selfHeal": True}
    r = env.run("app", "set", "new-app", "--sync-policy", "none", "--revision", "v2")
    assert r.exit_code == 0, r.output
    spec = env.kube.obj(AV, "Application", "new-app")["spec"]
    assert "automated" not in spec["syncPolicy"] and spec["source"]["targetRevision"] == "v2"
    assert env.run("app", "delete", "new-app", "-y").exit_code == 0
    r = env.run("app", "history", "artemis-web")
    assert "aaa111" in r.output and "bbb222" in r.output
    assert env.run("app", "rollback", "artemis-web", "1", "--async").exit_code == 0
    assert env.kube.obj(AV, "Application", "artemis-web")["operation"]["sync"]["revision"] == "aaa111"
    assert env.run("app", "terminate-op", "artemis-web").exit_code == 0
    r = env.run("app", "actions", "run", "artemis-web", "restart", "--kind", "Deployment", who="bot")
    assert r.exit_code == 0, r.output
    assert env.run("app", "resources", "artemis-web").exit_code == 0


def test_login_context_logout_and_tokens(env: Env) -> None:
    base = ["--config", str(env.config)]
    r = CliRunner().invoke(
        cli, ["login", env.server, "--plaintext", "--username", "admin", "--password", ADMIN_PASSWORD, *base]
    )
    assert r.exit_code == 0, r.output
    assert (env.config.stat().st_mode & 0o777) == 0o600
    r = CliRunner().invoke(cli, ["app", "list", "-o", "name", *base], env={})
    assert r.exit_code == 0 and "artemis-web" in r.output
    r = CliRunner().invoke(cli, ["context", *base])
    assert "*" in r.output and env.server in r.output
    r = CliRunner().invoke(cli, ["account", "generate-token", "--account", "dave", *base])
    assert r.exit_code == 0, r.output
    token = r.output.strip()
    r = CliRunner().invoke(
        cli,
        [
            "account",
            "can-i",
            "sync",
            "applications",
            "artemis/x",
            "--server",
            env.server,
            "--plaintext",
            "--config",
            str(env.config),
        ],
        env={"ARGOCD_AUTH_TOKEN": token},
    )
    assert r.exit_code == 0 and r.output.strip() == "no"
    r = CliRunner().invoke(cli, ["account", "list", *base])
    assert "dave" in r.output and "apiKey" in r.output
    r = CliRunner().invoke(cli, ["logout", *base])
    assert r.exit_code == 0
    r = CliRunner().invoke(cli, ["app", "list", *base])
    assert r.exit_code == 20


def test_repo_repocreds_proj_cluster(env: Env) -> None:
    r = env.run(
        "repo", "add", "https://git.example.com/x.git", "--username", "u", "--password", "pw-secret-9"
    )
    assert r.exit_code == 0, r.output
    r = env.run("repo", "list")
    assert "https://git.example.com/x.git" in r.output and "pw-secret-9" not in r.output
    r = env.run("repo", "list", "-o", "json")
    assert "pw-secret-9" not in r.output and "repo-pat-value" not in r.output
    assert env.run("repo", "rm", "https://git.example.com/x.git").exit_code == 0
    assert env.run("repocreds", "add", "https://git.example.com/", "--password", "p").exit_code == 0
    assert "https://git.example.com/" in env.run("repocreds", "list").output
    assert env.run("repocreds", "rm", "https://git.example.com/").exit_code == 0
    assert env.run("proj", "create", "newp", "--src", "*", "--dest", "*,*").exit_code == 0
    assert "newp" in env.run("proj", "list").output
    assert "Destinations:" in env.run("proj", "get", "newp").output
    assert "https://kubernetes.default.svc" in env.run("cluster", "list").output
