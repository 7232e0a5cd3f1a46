"""Destination clusters from Argo CD cluster Secrets (``argocd.argoproj.io/secret-type: cluster``).

No second control plane: the cluster Secret points at the test apiserver under another URL
(``https://localhost:<port>``; the kubeconfig says ``127.0.0.1``, both are in the serving
certificate) with the bearer token of a ServiceAccount that may read everything but write only in
namespace A. So the controller's connection for that Secret is a different identity from its own
(the admin of the kubeconfig):

* an application with ``destination.server`` = the Secret's URL and namespace A syncs and is
  Synced/Healthy (the objects were written with the Secret's token, through its own live cache);
* an application with ``destination.name`` = the Secret's name and namespace B cannot sync: the
  apiserver refuses the ServiceAccount, named in the operation's message (the in-cluster admin could
  have written there);
* an application whose destination URL matches no Secret gets InvalidSpecError, as Argo CD's
  "there are no clusters with this URL".
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml

from argosy import bootstrap
from tests.integration.test_controller import (  # noqa: F401
    Env,
    _configmap,
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


def _application(name: str, ns: str, repo_url: str, destination: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "project": "default",
            "source": {"repoURL": repo_url, "targetRevision": "main", "path": "app"},
            "destination": destination,
            "syncPolicy": {"automated": {}},
        },
    }


def _restricted_identity(cp: ControlPlane, writable: str) -> tuple[str, str]:
    """A ServiceAccount that reads everything and writes only in ``writable``; (username, token)."""
    sa_ns = cp.new_namespace()
    suffix = uuid.uuid4().hex[:6]
    cp.kubectl("-n", sa_ns, "create", "serviceaccount", "deployer")
    objects = [
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": f"argosy-test-read-{suffix}"},
            "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["get", "list", "watch"]}],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": f"argosy-test-read-{suffix}"},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": f"argosy-test-read-{suffix}",
            },
            "subjects": [{"kind": "ServiceAccount", "name": "deployer", "namespace": sa_ns}],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": {"name": "deployer", "namespace": writable},
            "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": "deployer", "namespace": writable},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "deployer"},
            "subjects": [{"kind": "ServiceAccount", "name": "deployer", "namespace": sa_ns}],
        },
    ]
    cp.kubectl("apply", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List", "items": objects}))
    token = cp.kubectl("-n", sa_ns, "create", "token", "deployer", "--duration=1h").stdout.strip()
    return f"system:serviceaccount:{sa_ns}:deployer", token


@pytest.mark.anyio
async def test_cluster_secret_destination_uses_its_own_identity(
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
    allowed, denied = cp.new_namespace(), cp.new_namespace()
    username, token = _restricted_identity(cp, allowed)
    kubeconfig = yaml.safe_load(cp.kubeconfig.read_text())
    cluster = kubeconfig["clusters"][0]["cluster"]
    server = str(cluster["server"]).replace("127.0.0.1", "localhost")
    assert server.startswith("https://localhost:"), server
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": "cluster-remote",
            "namespace": ns,
            "labels": {"argocd.argoproj.io/secret-type": "cluster"},
        },
        "stringData": {
            "name": "remote",
            "server": server,
            "config": json.dumps(
                {
                    "bearerToken": token,
                    "tlsClientConfig": {"insecure": False, "caData": cluster["certificate-authority-data"]},
                }
            ),
        },
    }
    env.apply(secret)
    repo = f"{daemon.url}/app.git"
    env.apply(_application("r-ok", ns, repo, {"server": server, "namespace": allowed}))
    env.apply(_application("r-denied", ns, repo, {"name": "remote", "namespace": denied}))
    env.apply(_application("r-unknown", ns, repo, {"server": "https://127.0.0.1:1", "namespace": allowed}))
    async with running_controller(cp, ns, tmp_path / "state"):
        await env.wait("r-ok synced through the cluster Secret", lambda: env.synced_healthy("r-ok", sha))
        assert env.data("settings", allowed) == {"v": "1"}
        live = cp.get_json("-n", allowed, "configmap", "settings")
        assert live["metadata"]["annotations"]["argocd.argoproj.io/tracking-id"].startswith("r-ok:")

        def refused() -> str:
            state = (env.app("r-denied").get("status") or {}).get("operationState") or {}
            text = json.dumps(state)
            return text if username in text and "forbidden" in text else ""

        try:
            text = await env.wait("r-denied refused for the Secret's identity", refused, timeout=60)
        except AssertionError as exc:
            raise AssertionError(json.dumps(env.app("r-denied").get("status"), indent=1)) from exc
        assert token not in text
        assert not env.exists("configmap", "settings", denied)

        def invalid() -> str:
            conditions = (env.app("r-unknown").get("status") or {}).get("conditions") or []
            return next((c["message"] for c in conditions if c.get("type") == "InvalidSpecError"), "")

        message = await env.wait("r-unknown InvalidSpecError", invalid)
        assert "there are no clusters with this URL: https://127.0.0.1:1" in message
        # Live changes in the destination are seen through the Secret's own cache: self-heal works.
        patch = {"data": {"v": "changed"}}
        cp.kubectl(
            "-n", allowed, "patch", "configmap", "settings", "--type", "merge", "-p", json.dumps(patch)
        )
        await env.wait(
            "r-ok out of sync", lambda: (env.app("r-ok")["status"]["sync"]["status"]) == "OutOfSync"
        )
        # The token never appears in an Application (status, conditions, operation messages).
        for app in ("r-ok", "r-denied", "r-unknown"):
            assert token not in json.dumps(env.app(app))
