"""``argosy cluster add``'s kubeconfig reading and the manager objects it installs (no cluster)."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
import yaml

from argosy.cli import clusterauth
from argosy.cli.cluster import _cluster_path

PEM = b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


def _kubeconfig(tmp_path: Path, cluster: dict[str, object]) -> Path:
    data = {
        "clusters": [{"name": "c", "cluster": cluster}],
        "users": [{"name": "u", "user": {"token": "t"}}],
        "contexts": [{"name": "prod", "context": {"cluster": "c", "user": "u"}}],
        "current-context": "prod",
    }
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(data))
    return path


def test_read_target_inline_and_file_ca(tmp_path: Path) -> None:
    inline = base64.b64encode(PEM).decode()
    path = _kubeconfig(tmp_path, {"server": "https://k.example:6443/", "certificate-authority-data": inline})
    target = clusterauth.read_target(path, "prod")
    assert (target.server, target.ca_data, target.insecure) == ("https://k.example:6443", inline, False)
    (tmp_path / "ca.crt").write_bytes(PEM)
    path = _kubeconfig(
        tmp_path,
        {"server": "https://k:1", "certificate-authority": "ca.crt", "tls-server-name": "api.internal"},
    )
    target = clusterauth.read_target(path, "prod")
    assert base64.b64decode(target.ca_data) == PEM and target.server_name == "api.internal"
    with pytest.raises(clusterauth.ClusterAuthError, match="Context nope does not exist in kubeconfig"):
        clusterauth.read_target(path, "nope")


def test_manager_objects_cluster_wide_and_namespaced() -> None:
    wide = clusterauth._objects(clusterauth.Manager())
    assert [(o["kind"], o["metadata"]["name"]) for o in wide] == [
        ("ServiceAccount", "argocd-manager"),
        ("ClusterRole", "argocd-manager-role"),
        ("ClusterRoleBinding", "argocd-manager-role-binding"),
        ("Secret", "argocd-manager-long-lived-token"),
    ]
    assert wide[0]["metadata"]["namespace"] == "kube-system"
    assert {"nonResourceURLs": ["*"], "verbs": ["*"]} in wide[1]["rules"]
    token = wide[-1]
    assert token["type"] == "kubernetes.io/service-account-token"
    assert token["metadata"]["annotations"] == {"kubernetes.io/service-account.name": "argocd-manager"}
    scoped = clusterauth._objects(clusterauth.Manager("deployer", "ops", ("a", "b")))
    kinds = [(o["kind"], o["metadata"].get("namespace")) for o in scoped]
    assert kinds == [
        ("ServiceAccount", "ops"),
        ("Role", "a"),
        ("RoleBinding", "a"),
        ("Role", "b"),
        ("RoleBinding", "b"),
        ("Secret", "ops"),
    ]
    assert scoped[2]["subjects"] == [{"kind": "ServiceAccount", "name": "deployer", "namespace": "ops"}]


def test_selector_by_server_or_name() -> None:
    assert _cluster_path("https://k:6443") == ("/api/v1/clusters/https%3A%2F%2Fk%3A6443", {})
    assert _cluster_path("prod") == ("/api/v1/clusters/prod", {"id.type": "name"})
