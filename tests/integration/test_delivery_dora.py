"""``GET /api/v1/delivery/dora`` after real syncs: the controller (in-process, on the local control
plane) writes deployments to the SQL history store (SQLite in the state directory), and the API that
``argosy.bootstrap.api_app`` builds over the same runtime reads them back as DORA figures.

An automated application gets a good commit, a second good commit, a commit whose PreSync hook fails
(a Job whose pod kwok fails), and a fix: the figures show the deployments, a failed change and a
time to restore. A user who may not ``get`` the application sees no series.
"""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from argosy import bootstrap
from argosy.adapters.db import SqlStore
from argosy.adapters.render import RenderTools
from argosy.core.passwords import hash_password
from argosy.services.controller import ControllerSettings
from tests.integration.test_controller import Env, _configmap, _setup_namespace, crds  # noqa: F401
from tests.support.cluster import ControlPlane
from tests.support.gitserver import BareRepo, GitServer

pytestmark = pytest.mark.integration

ADMIN_PASSWORD = "admin-dora-test-pw"
VIEWER_PASSWORD = "viewer-dora-test-pw"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _accounts(cp: ControlPlane, ns: str) -> None:
    for obj in (
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "argocd-cm", "namespace": ns},
            "data": {"accounts.viewer": "login"},
        },
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "argocd-rbac-cm", "namespace": ns},
            # The viewer may see applications of another project only.
            "data": {"policy.csv": "p, viewer, applications, get, other/*, allow\n"},
        },
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "argocd-secret", "namespace": ns},
            "stringData": {
                "admin.password": hash_password(ADMIN_PASSWORD, cost=4),
                "admin.passwordMtime": "2026-01-01T00:00:00Z",
                "accounts.viewer.password": hash_password(VIEWER_PASSWORD, cost=4),
                "accounts.viewer.passwordMtime": "2026-01-01T00:00:00Z",
            },
        },
    ):
        cp.kubectl("apply", "-f", "-", input=json.dumps(obj))


def _failing_presync_job() -> str:
    """A PreSync hook whose pod fails (kwok's stage label): the sync fails."""
    return json.dumps(
        {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {
                "name": "migrate",
                "annotations": {
                    "argocd.argoproj.io/hook": "PreSync",
                    "argocd.argoproj.io/hook-delete-policy": "HookFailed",
                },
            },
            "spec": {
                "backoffLimit": 0,
                "template": {
                    "metadata": {"labels": {"pod-container-running-failed.stage.kwok.x-k8s.io": "true"}},
                    "spec": {
                        "restartPolicy": "Never",
                        "containers": [{"name": "main", "image": "busybox:1.36", "command": ["false"]}],
                    },
                },
            },
        }
    )


def _application(name: str, ns: str, repo_url: str, dest: str) -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": name, "namespace": ns, "labels": {"environment": "development"}},
        "spec": {
            "project": "default",
            "source": {"repoURL": repo_url, "targetRevision": "main", "path": "app"},
            "destination": {"server": "https://kubernetes.default.svc", "namespace": dest},
            # Automated by the development profile; one quick retry, so that the fix is not queued
            # behind the profile's ten retries of the failing revision.
            "syncPolicy": {
                "retry": {"limit": 1, "backoff": {"duration": "1s", "factor": 1, "maxDuration": "1s"}}
            },
        },
    }


@pytest.mark.anyio
async def test_dora_route_counts_real_deployments(
    control_plane: ControlPlane,
    namespace: str,
    git_server: GitServer,
    git_repo: BareRepo,
    crds: None,  # noqa: F811  (the fixture imported above)
    tmp_path: Path,
) -> None:
    cp, ns = control_plane, namespace
    env = Env(cp, ns)
    _setup_namespace(cp, ns, git_repo, git_server)
    _accounts(cp, ns)
    dest = cp.new_namespace()
    v1 = git_repo.commit_files({"app/cm.yaml": _configmap("settings", {"v": "1"})}, "v1")
    env.apply(_application("dora", ns, git_repo.http_url, dest))
    started = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)

    tools = RenderTools(helm=cp.bin_dir / "helm", kubectl=cp.bin_dir / "kubectl")
    settings = ControllerSettings(
        namespace=ns, workers=4, wave_delay=0.2, poll_interval=0.2, reconciliation_timeout=30.0
    )
    stack = contextlib.ExitStack()
    async with (
        bootstrap.runtime(
            kubeconfig=str(cp.kubeconfig),
            namespace=ns,
            state_dir=tmp_path,
            leader_election=False,
            settings=settings,
            tools=tools,
        ) as rt,
        anyio.create_task_group() as tg,
    ):
        assert isinstance(rt.history, SqlStore)  # the long-term SQL store, not the in-memory one
        tg.start_soon(bootstrap.run_controller, rt)
        try:
            await env.wait("v1 synced and healthy", lambda: env.synced_healthy("dora", v1))
            v2 = git_repo.commit_files({"app/cm.yaml": _configmap("settings", {"v": "2"})}, "v2")
            env.refresh("dora")
            await env.wait("v2 synced and healthy", lambda: env.synced_healthy("dora", v2))
            # A hook alone leaves the app Synced (hooks are not compared): change the ConfigMap too.
            bad = git_repo.commit_files(
                {
                    "app/cm.yaml": _configmap("settings", {"v": "3"}),
                    "app/migrate.yaml": _failing_presync_job(),
                },
                "bad",
            )
            env.refresh("dora")

            def failed_at_bad() -> bool:
                state = (env.app("dora").get("status") or {}).get("operationState") or {}
                revisions = {
                    (state.get("syncResult") or {}).get("revision"),
                    ((state.get("operation") or {}).get("sync") or {}).get("revision"),
                }
                return state.get("phase") in ("Failed", "Error") and bad in revisions

            try:
                await env.wait("the bad commit's sync failed", failed_at_bad)
            except AssertionError:
                print(json.dumps(env.app("dora").get("status"), indent=1)[:6000])
                raise
            fixed = git_repo.commit_files(
                {"app/cm.yaml": _configmap("settings", {"v": "4"})}, "fix", replace=True
            )
            env.refresh("dora")
            await env.wait("the fix synced and healthy", lambda: env.synced_healthy("dora", fixed), 120)

            # The app's lifespan closes its audit log file (an unclosed file would fail the run).
            app = bootstrap.api_app(rt, namespace=ns, state_dir=tmp_path, secure_cookies=False)
            async with (
                app.router.lifespan_context(app),
                httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as http,
            ):

                async def token(user: str, password: str) -> dict[str, str]:
                    r = await http.post("/api/v1/session", json={"username": user, "password": password})
                    assert r.status_code == 200, r.text
                    return {"Authorization": f"Bearer {r.json()['token']}"}

                admin = await token("admin", ADMIN_PASSWORD)
                end = datetime.now(UTC) + timedelta(minutes=1)
                params = {
                    "from": started.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "to": end.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "bucket": "day",
                }

                async def dora(headers: dict[str, str], **extra: str) -> dict[str, Any]:
                    # The history is written in the background: poll until the fix's record is in.
                    body: dict[str, Any] = {}
                    for _ in range(50):
                        query = {**params, **extra}
                        r = await http.get("/api/v1/delivery/dora", params=query, headers=headers)
                        assert r.status_code == 200, r.text
                        body = r.json()
                        series = body["series"]
                        if not series or series[0]["timeToRestoreSeconds"]["median"] is not None:
                            return body
                        await anyio.sleep(0.2)
                    return body

                body = await dora(admin)
                (series,) = body["series"]
                assert (series["app"], series["environment"], series["project"]) == (
                    "dora",
                    "development",
                    "default",
                )
                # v1, v2 and the fix succeeded; the bad commit failed (once or more: auto-sync retries).
                assert series["deploymentFrequency"]["count"] >= 3
                assert sum(b["count"] for b in series["deploymentFrequency"]["buckets"]) >= 3
                cfr = series["changeFailureRate"]
                assert cfr["failed"] >= 1
                assert cfr["total"] == cfr["failed"] + series["deploymentFrequency"]["count"]
                assert 0 < cfr["rate"] < 1
                ttr = series["timeToRestoreSeconds"]
                assert ttr["restores"] == 1 and ttr["open"] == 0
                assert 0 < ttr["median"] < 300
                # Lead time runs from each deployed commit's committer date to Synced+Healthy.
                lead = series["leadTimeSeconds"]
                assert lead["samples"] >= 3, lead
                assert 0 < lead["median"] < 600, lead
                print("DORA after real syncs:", json.dumps(series)[:2000])

                # The commit behind a revision, from the Git cache the controller filled.
                meta = await http.get(f"/api/v1/applications/dora/revisions/{fixed}/metadata", headers=admin)
                assert meta.status_code == 200, meta.text
                assert meta.json()["message"] == "fix" and meta.json()["author"], meta.json()
                assert meta.json()["date"].endswith("Z"), meta.json()

                # The same through the environment filter; nothing for another environment.
                assert len((await dora(admin, environment="development"))["series"]) == 1
                assert (await dora(admin, environment="production"))["series"] == []

                viewer = await token("viewer", VIEWER_PASSWORD)
                assert (await dora(viewer))["series"] == []

                bad_range = await http.get(
                    "/api/v1/delivery/dora", params={**params, "from": params["to"]}, headers=admin
                )
                assert bad_range.status_code == 422
                assert "must be before" in bad_range.json()["message"]
        finally:
            rt.stop()
            stack.close()
