"""What the controller records, read through the CLI and the API server (spec §5.1, §8.4).

Two staging applications (profile ``staging``: automated, prune) that turn selfHeal off in their own
``spec.syncPolicy``. ``argosy app get`` shows the effective policy and where each field comes from;
after a ``kubectl patch`` of one app's ConfigMap, only that app is listed by ``argosy app list
--drifted``, with the field and the manager, and the change is not reverted (selfHeal off).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from argosy import bootstrap
from tests.integration.test_controller import (  # noqa: F401
    Env,
    _configmap,
    _setup_namespace,
    crds,
    running_controller,
)
from tests.integration.test_controller_processes import publish
from tests.integration.test_controller_terminate import _api_server, daemon  # noqa: F401
from tests.support.cluster import ControlPlane

pytestmark = pytest.mark.integration


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _application(name: str, ns: str, repo_url: str, dest: str) -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": name, "namespace": ns, "labels": {"environment": "staging"}},
        "spec": {
            "project": "default",
            "source": {"repoURL": repo_url, "targetRevision": "main", "path": "app"},
            "destination": {"server": "https://kubernetes.default.svc", "namespace": dest},
            "syncPolicy": {"automated": {"selfHeal": False}},
        },
    }


@pytest.mark.anyio
async def test_get_shows_policy_origin_and_list_drifted(
    control_plane: ControlPlane,
    namespace: str,
    crds: None,  # noqa: F811
    tmp_path: Path,
    daemon: bootstrap.GitDaemon,  # noqa: F811
) -> None:
    cp, ns = control_plane, namespace
    env = Env(cp, ns)
    _setup_namespace(cp, ns, None, None)
    sha = publish(tmp_path, {"settings.yaml": _configmap("settings", {"v": "1"})})
    dests = {name: cp.new_namespace() for name in ("cli-drift", "cli-clean")}
    for name, dest in dests.items():
        env.apply(_application(name, ns, f"{daemon.url}/app.git", dest))
    (tmp_path / "api").mkdir()
    with _api_server(cp, ns, tmp_path / "api") as server:
        async with running_controller(cp, ns, tmp_path / "state"):
            for name in dests:
                await env.wait(f"{name} synced", lambda n=name: env.synced_healthy(n, sha))

            done = server.cli("app", "get", "cli-drift")
            assert done.returncode == 0, done.stderr
            out = done.stdout
            assert "Sync Policy:   Auto-Prune (from application, profile:staging)" in out, out
            assert "Profile:       staging" in out, out
            rows = {ln.split()[0]: ln.split()[1:] for ln in out.splitlines() if ln.startswith("automated.")}
            assert rows["automated.selfHeal"] == ["false", "application"], out
            assert rows["automated.prune"] == ["true", "profile:staging"], out
            done = server.cli("app", "list", "--drifted", "-o", "name")
            assert done.returncode == 0, done.stderr
            assert done.stdout.split() == []

            patch = {"data": {"v": "changed-by-hand"}}
            dest = dests["cli-drift"]
            cp.kubectl(
                "-n", dest, "patch", "configmap", "settings", "--type", "merge", "-p", json.dumps(patch)
            )

            def drift_detected() -> bool:
                drift = ((env.app("cli-drift").get("status") or {}).get("argosy") or {}).get("drift") or {}
                return drift.get("detected") is True

            await env.wait("drift detected", drift_detected, timeout=60)
            done = server.cli("app", "list", "--drifted", "-o", "name")
            assert done.returncode == 0, done.stderr
            assert done.stdout.split() == ["cli-drift"]
            done = server.cli("app", "list", "--drifted")
            assert done.returncode == 0, done.stderr
            (line,) = [ln for ln in done.stdout.splitlines() if ln.startswith("cli-drift")]
            assert line.endswith("LiveDrift: 1 field by kubectl-patch"), done.stdout
            assert "cli-clean" not in done.stdout
            done = server.cli("app", "get", "cli-drift")
            assert "OutOfSync:     LiveDrift" in done.stdout, done.stdout
            assert "Drift:         detected" in done.stdout, done.stdout
            fields = [ln for ln in done.stdout.splitlines() if ":" in ln and "kubectl-patch" in ln]
            assert len(fields) == 1 and "settings" in fields[0], done.stdout
            field = fields[0]
            assert field.split()[1] == "kubectl-patch", field
            # selfHeal is off (the Application's own field wins over the profile): only reported.
            assert env.data("settings", dest) == {"v": "changed-by-hand"}
