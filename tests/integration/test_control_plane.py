"""The local control plane behaves like a real cluster for what Argosy relies on.

Everything goes through the kubectl we built, against the session's real apiserver, controller
manager, scheduler and kwok node.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from argosy.adapters.localcluster.plane import FAILURE_LABEL
from tests.support.cluster import ControlPlane

pytestmark = pytest.mark.integration


def _apply(cp: ControlPlane, namespace: str, manifest: dict[str, Any], *extra: str) -> str:
    return cp.kubectl("-n", namespace, "apply", *extra, "-f", "-", input=yaml.safe_dump(manifest)).stdout


def _deployment(name: str, replicas: int) -> dict[str, Any]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]},
            },
        },
    }


def _job(name: str, pod_labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name},
        "spec": {
            "backoffLimit": 0,
            "template": {
                "metadata": {"labels": pod_labels or {}},
                "spec": {"restartPolicy": "Never", "containers": [{"name": "run", "image": "busybox:1.36"}]},
            },
        },
    }


def _condition(obj: dict[str, Any], kind: str) -> str | None:
    for cond in obj.get("status", {}).get("conditions") or []:
        if cond.get("type") == kind:
            return str(cond.get("status"))
    return None


def test_node_is_ready_and_versions_match(control_plane: ControlPlane) -> None:
    node = control_plane.get_json("node", "kwok-node-0")
    assert _condition(node, "Ready") == "True"
    version = json.loads(control_plane.kubectl("version", "-o", "json").stdout)
    assert version["serverVersion"]["gitVersion"] == "v1.36.3"
    assert version["clientVersion"]["gitVersion"] == "v1.36.3"


def test_three_replica_deployment_becomes_available(control_plane: ControlPlane, namespace: str) -> None:
    _apply(control_plane, namespace, _deployment("web", 3))
    control_plane.wait_for(
        "deployment web Available",
        lambda: (
            _condition(control_plane.get_json("-n", namespace, "deployment", "web"), "Available") == "True"
            and control_plane.get_json("-n", namespace, "deployment", "web")["status"].get("readyReplicas")
            == 3
        ),
    )
    pods = control_plane.get_json("-n", namespace, "pods", "-l", "app=web")["items"]
    assert len(pods) == 3
    for pod in pods:
        assert pod["status"]["phase"] == "Running"
        assert _condition(pod, "Ready") == "True"
        assert pod["spec"]["nodeName"] == "kwok-node-0"


def test_job_completes(control_plane: ControlPlane, namespace: str) -> None:
    _apply(control_plane, namespace, _job("ok"))
    control_plane.wait_for(
        "job ok Complete",
        lambda: _condition(control_plane.get_json("-n", namespace, "job", "ok"), "Complete") == "True",
    )
    job = control_plane.get_json("-n", namespace, "job", "ok")
    assert job["status"].get("succeeded") == 1


def test_job_with_failure_label_fails(control_plane: ControlPlane, namespace: str) -> None:
    _apply(control_plane, namespace, _job("boom", {FAILURE_LABEL: "true"}))
    control_plane.wait_for(
        "job boom Failed",
        lambda: _condition(control_plane.get_json("-n", namespace, "job", "boom"), "Failed") == "True",
    )
    job = control_plane.get_json("-n", namespace, "job", "boom")
    assert job["status"].get("failed") == 1
    assert not job["status"].get("succeeded")


def test_foreground_delete_removes_replicasets_and_pods(control_plane: ControlPlane, namespace: str) -> None:
    _apply(control_plane, namespace, _deployment("gone", 2))
    control_plane.wait_for(
        "2 pods of gone",
        lambda: len(control_plane.get_json("-n", namespace, "pods", "-l", "app=gone")["items"]) == 2,
    )
    assert control_plane.get_json("-n", namespace, "replicasets", "-l", "app=gone")["items"]
    control_plane.kubectl(
        "-n", namespace, "delete", "deployment", "gone", "--cascade=foreground", "--wait=true"
    )
    assert control_plane.kubectl("-n", namespace, "get", "deployment", "gone", check=False).returncode != 0
    control_plane.wait_for(
        "replicasets and pods of gone removed",
        lambda: (
            not control_plane.get_json("-n", namespace, "replicasets", "-l", "app=gone")["items"]
            and not control_plane.get_json("-n", namespace, "pods", "-l", "app=gone")["items"]
        ),
    )


def test_crd_and_custom_resource(control_plane: ControlPlane, namespace: str) -> None:
    group = f"{namespace}.argosy.test"
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"widgets.{group}"},
        "spec": {
            "group": group,
            "names": {"kind": "Widget", "plural": "widgets", "singular": "widget"},
            "scope": "Namespaced",
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {
                                "spec": {"type": "object", "properties": {"size": {"type": "integer"}}}
                            },
                        }
                    },
                }
            ],
        },
    }
    control_plane.kubectl("apply", "-f", "-", input=yaml.safe_dump(crd))
    try:
        control_plane.kubectl("wait", "--for=condition=Established", f"crd/widgets.{group}", "--timeout=30s")
        widget = {
            "apiVersion": f"{group}/v1",
            "kind": "Widget",
            "metadata": {"name": "w1"},
            "spec": {"size": 3},
        }
        _apply(control_plane, namespace, widget)
        stored = control_plane.get_json("-n", namespace, f"widgets.{group}", "w1")
        assert stored["spec"] == {"size": 3}
    finally:
        control_plane.kubectl("delete", "crd", f"widgets.{group}", "--wait=false", check=False)


def test_server_side_apply_dry_run_predicts_without_writing(
    control_plane: ControlPlane, namespace: str
) -> None:
    config = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "settings"},
        "data": {"mode": "old"},
    }
    _apply(control_plane, namespace, config, "--server-side", "--field-manager=argosy-test")
    config["data"] = {"mode": "new", "extra": "yes"}
    predicted = yaml.safe_load(
        _apply(
            control_plane,
            namespace,
            config,
            "--server-side",
            "--field-manager=argosy-test",
            "--dry-run=server",
            "-o",
            "yaml",
        )
    )
    assert predicted["data"] == {"mode": "new", "extra": "yes"}
    stored = control_plane.get_json("-n", namespace, "configmap", "settings")
    assert stored["data"] == {"mode": "old"}
