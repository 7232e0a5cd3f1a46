"""Orphaned-resource monitoring (AppProject ``orphanedResources``) over every type of the live cache.

The destination namespace holds, besides the application's ConfigMap: a stray ConfigMap, a
ServiceAccount, a Role (a kind outside the old four), a Deployment (its ReplicaSet and Pods are
owned, so not orphans), the namespace's own ``default`` ServiceAccount and ``kube-root-ca.crt``
ConfigMap (Argo CD's known exclusions), and a NetworkPolicy the project ignores. The app gets
``OrphanedResourceWarning`` "Application has 4 orphaned resources"; after the stray ConfigMap is
deleted and the app refreshed, 3.
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
    _deployment,
    _setup_namespace,
    crds,
    running_controller,
)
from tests.integration.test_controller_processes import publish
from tests.integration.test_controller_terminate import daemon  # noqa: F401
from tests.support.cluster import ControlPlane

pytestmark = pytest.mark.integration


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _project(ns: str) -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "AppProject",
        "metadata": {"name": "watched", "namespace": ns},
        "spec": {
            "sourceRepos": ["*"],
            "destinations": [{"server": "*", "namespace": "*"}],
            "clusterResourceWhitelist": [{"group": "*", "kind": "*"}],
            "orphanedResources": {
                "warn": True,
                "ignore": [{"group": "networking.k8s.io", "kind": "NetworkPolicy"}],
            },
        },
    }


def _stray(dest: str) -> list[dict[str, Any]]:
    deployment = json.loads(_deployment())
    deployment["metadata"] = {"name": "unmanaged", "namespace": dest}
    return [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "stray", "namespace": dest}},
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "robot", "namespace": dest}},
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": {"name": "reader", "namespace": dest},
            "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}],
        },
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": "ignored", "namespace": dest},
            "spec": {"podSelector": {}},
        },
        deployment,
    ]


@pytest.mark.anyio
async def test_orphaned_resources_of_every_kind_with_default_and_project_ignores(
    control_plane: ControlPlane,
    namespace: str,
    crds: None,  # noqa: F811
    tmp_path: Path,
    daemon: bootstrap.GitDaemon,  # noqa: F811
) -> None:
    cp, ns = control_plane, namespace
    env = Env(cp, ns)
    _setup_namespace(cp, ns, None, None)
    env.apply(_project(ns))
    sha = publish(tmp_path, {"settings.yaml": _configmap("settings", {"v": "1"})})
    dest = cp.new_namespace()
    for obj in _stray(dest):
        env.apply(obj)
    app = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": "o-app", "namespace": ns},
        "spec": {
            "project": "watched",
            "source": {"repoURL": f"{daemon.url}/app.git", "targetRevision": "main", "path": "app"},
            "destination": {"server": "https://kubernetes.default.svc", "namespace": dest},
            "syncPolicy": {"automated": {}},
        },
    }
    env.apply(app)

    def warning() -> str:
        conditions = (env.app("o-app").get("status") or {}).get("conditions") or []
        return next((c["message"] for c in conditions if c.get("type") == "OrphanedResourceWarning"), "")

    async with running_controller(cp, ns, tmp_path / "state"):
        await env.wait("synced", lambda: env.synced_healthy("o-app", sha))
        await env.wait("4 orphans", lambda: warning() == "Application has 4 orphaned resources")
        cp.kubectl("-n", dest, "delete", "configmap", "stray")
        env.refresh("o-app")
        await env.wait("3 orphans", lambda: warning() == "Application has 3 orphaned resources")
