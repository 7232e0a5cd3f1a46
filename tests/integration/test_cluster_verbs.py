"""``argosy cluster add|list|get|rm`` against a running API server and a real control plane.

No second control plane: the kubeconfig handed to ``cluster add`` names the test apiserver as
``https://localhost:<port>`` (its serving certificate has the SAN), as test_remote_cluster.py does.
``cluster add`` creates the manager ServiceAccount, its ClusterRole binding and token Secret in that
cluster and registers a cluster Secret through the API. The test reads that Secret with the
controller's own parser (``services.clusters.parse_cluster_secret``) and uses its credentials for
real (through ``https://localhost`` with the kubeconfig's CA the apiserver sees the ServiceAccount),
then runs the controller: an Application whose destination is the added cluster *by name* (which
only the Secret can resolve) syncs.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import httpx
import pytest
import yaml

from argosy import bootstrap
from argosy.adapters.kube import KubeClient
from argosy.adapters.kube.remote import kube_config_for
from argosy.services.clusters import ClusterSpec, parse_cluster_secret
from tests.integration.test_api_cli import Server, _initial_password, api_server  # noqa: F401
from tests.integration.test_controller import Env, _configmap, _setup_namespace, running_controller
from tests.integration.test_controller_processes import publish
from tests.integration.test_controller_terminate import daemon  # noqa: F401
from tests.integration.test_remote_cluster import _application

pytestmark = pytest.mark.integration


def _localhost_kubeconfig(s: Server, path: Path, context: str) -> str:
    """A copy of the admin kubeconfig whose only context is ``context`` at https://localhost:<port>."""
    data = yaml.safe_load(s.plane.kubeconfig.read_text())
    cluster = data["clusters"][0]
    server = str(cluster["cluster"]["server"]).replace("127.0.0.1", "localhost")
    assert server.startswith("https://localhost:"), server
    cluster["cluster"]["server"] = server
    data["contexts"] = [
        {"name": context, "context": {"cluster": cluster["name"], "user": data["users"][0]["name"]}}
    ]
    data["current-context"] = context
    path.write_text(yaml.safe_dump(data))
    return server


async def _use(spec: ClusterSpec, namespace: str) -> str:
    """Do what the controller does with the Secret (list, write); the identity the apiserver saw."""
    async with KubeClient(kube_config_for(spec)) as kube:
        names = [n["metadata"]["name"] for n in (await kube.list("v1", "Namespace")).items]
        assert namespace in names
        meta = {"name": "via-secret", "namespace": namespace}
        await kube.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta})
        review = await kube.create({"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"})
        return str(review["status"]["userInfo"]["username"])


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.anyio
async def test_cluster_add_get_list_rm(
    api_server: Server,  # noqa: F811
    tmp_path: Path,
    daemon: bootstrap.GitDaemon,  # noqa: F811
) -> None:
    s = api_server
    r = s.cli("login", s.address, "--plaintext", "--username", "admin", "--password", _initial_password(s))
    assert r.returncode == 0, r.stderr
    context = f"remote-{uuid.uuid4().hex[:6]}"
    kubeconfig = tmp_path / "kubeconfig"
    server = _localhost_kubeconfig(s, kubeconfig, context)
    sa_ns = s.plane.new_namespace()
    sa = f"mgr-{uuid.uuid4().hex[:6]}"
    target_ns = s.plane.new_namespace()
    add = [
        "cluster", "add", context, "--kubeconfig", str(kubeconfig), "--yes",
        "--service-account", sa, "--system-namespace", sa_ns, "--label", "env=test",
    ]  # fmt: skip

    # A caller without `clusters, create`: 403, exit 20, and no cluster Secret.
    r = s.cli("account", "generate-token", "--account", "ci")
    assert r.returncode == 0, r.stderr
    ci_token = r.stdout.strip()
    r = s.cli(*add, "--server", s.address, "--plaintext", token=ci_token)
    assert r.returncode == 20, (r.stdout, r.stderr)
    assert "rpc error: code = PermissionDenied desc = permission denied" in r.stderr
    secrets = s.plane.get_json("-n", s.namespace, "secret", "-l", "argocd.argoproj.io/secret-type=cluster")
    assert secrets["items"] == []
    # checked before anything is created in the target cluster
    assert s.plane.kubectl("-n", sa_ns, "get", "serviceaccount", sa, check=False).returncode != 0
    # the server refuses the POST itself too, and audits the refusal
    body = {"server": server, "name": context, "config": {"bearerToken": "x"}}
    headers = {"Authorization": f"Bearer {ci_token}"}
    refused = httpx.post(f"http://{s.address}/api/v1/clusters", json=body, headers=headers)
    assert refused.status_code == 403 and refused.json()["message"] == "permission denied"
    audit = [json.loads(line) for line in s.audit.read_text().splitlines()]
    denied = [e for e in audit if e["action"] == "cluster.create" and e["outcome"] == "denied"]
    assert [e["actor"] for e in denied] == ["ci"]

    # The admin adds it: ServiceAccount, ClusterRole(Binding), token Secret, then the cluster Secret.
    r = s.cli(*add)
    assert r.returncode == 0, r.stderr
    assert f"Cluster '{server}' added" in r.stdout
    assert f'ServiceAccount "{sa}" created in namespace "{sa_ns}"' in r.stderr
    s.plane.get_json("-n", sa_ns, "serviceaccount", sa)
    binding = s.plane.get_json("clusterrolebinding", f"{sa}-role-binding")
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": sa, "namespace": sa_ns}]
    token_secret = s.plane.get_json("-n", sa_ns, "secret", f"{sa}-long-lived-token")
    assert token_secret["type"] == "kubernetes.io/service-account-token"

    secrets = s.plane.get_json("-n", s.namespace, "secret", "-l", "argocd.argoproj.io/secret-type=cluster")
    assert len(secrets["items"]) == 1
    secret = secrets["items"][0]
    assert secret["metadata"]["name"].startswith("cluster-localhost-")
    spec = parse_cluster_secret(secret)  # exactly what the controller reads
    assert (spec.name, spec.server, spec.insecure) == (context, server, False)
    assert spec.bearer_token and spec.ca_data.startswith("-----BEGIN CERTIFICATE-----")
    assert await _use(spec, target_ns) == f"system:serviceaccount:{sa_ns}:{sa}"
    cm = s.plane.get_json("-n", target_ns, "configmap", "via-secret")
    assert cm["metadata"]["name"] == "via-secret"

    # list and get show it, never the token (nor the CA: Argo CD's sanitized cluster).
    r = s.cli("cluster", "list")
    assert r.returncode == 0 and server in r.stdout and context in r.stdout, r.stderr
    r = s.cli("cluster", "list", "-o", "json")
    assert spec.bearer_token not in r.stdout
    r = s.cli("cluster", "get", server, "-o", "json")
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout)
    assert got["server"] == server and got["name"] == context and got["labels"] == {"env": "test"}
    assert got["config"] == {"tlsClientConfig": {"insecure": False}}
    r = s.cli("cluster", "get", context)  # by name, yaml by default
    assert r.returncode == 0 and yaml.safe_load(r.stdout)["server"] == server, r.stderr
    # The controller resolves a destination by that name through the Secret, and syncs.
    _setup_namespace(s.plane, s.namespace, None, None)
    sha = publish(tmp_path, {"settings.yaml": _configmap("settings", {"v": "1"})})
    env = Env(s.plane, s.namespace)
    dest = {"name": context, "namespace": target_ns}
    env.apply(_application("by-name", s.namespace, f"{daemon.url}/app.git", dest))
    async with running_controller(s.plane, s.namespace, tmp_path / "state"):
        await env.wait("by-name synced to the added cluster", lambda: env.synced_healthy("by-name", sha))
    assert env.data("settings", target_ns) == {"v": "1"}
    assert spec.bearer_token not in json.dumps(env.app("by-name"))
    s.plane.kubectl("-n", s.namespace, "delete", "application", "by-name", "--wait=false")

    # adding again with the same spec would need a new token: a different spec needs --upsert
    r = s.cli(*add, "--name", "renamed")
    assert r.returncode == 20 and "upsert" in r.stderr

    # rm deletes the Secret and, the kubeconfig having the context, the manager's RBAC.
    r = s.cli("cluster", "rm", context, "--yes", "--kubeconfig", str(kubeconfig))
    assert r.returncode == 0, r.stderr
    assert f"Cluster '{context}' removed" in r.stdout
    secrets = s.plane.get_json("-n", s.namespace, "secret", "-l", "argocd.argoproj.io/secret-type=cluster")
    assert secrets["items"] == []
    assert s.plane.kubectl("-n", sa_ns, "get", "serviceaccount", sa, check=False).returncode != 0
    assert s.plane.kubectl("get", "clusterrolebinding", f"{sa}-role-binding", check=False).returncode != 0
    r = s.cli("cluster", "get", server)
    assert r.returncode == 20 and "NotFound" in r.stderr
    # the in-cluster destination cannot be removed
    r = s.cli("cluster", "rm", "https://kubernetes.default.svc", "--yes")
    assert r.returncode == 20 and "in-cluster" in r.stderr

    log = s.audit.read_text()
    assert spec.bearer_token not in log
    lines = [json.loads(line) for line in log.splitlines()]
    assert any(e["action"] == "cluster.create" and e["outcome"] == "success" for e in lines)
    assert any(e["action"] == "cluster.delete" and e["outcome"] == "success" for e in lines)
