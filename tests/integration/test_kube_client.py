"""KubeClient against the session's real local apiserver."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest

from argosy.adapters.kube import (
    AlreadyExists,
    Conflict,
    Invalid,
    KubeClient,
    NotFound,
    WatchEvent,
    load_kubeconfig,
)
from tests.support.cluster import ControlPlane

pytestmark = [pytest.mark.integration, pytest.mark.anyio]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def kube(control_plane: ControlPlane) -> AsyncIterator[KubeClient]:
    async with KubeClient(load_kubeconfig(control_plane.kubeconfig)) as client:
        yield client


def _configmap(name: str, namespace: str, data: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace},
        "data": data,
    }


async def test_discovery_finds_core_and_group_resources(kube: KubeClient) -> None:
    discovery = await kube.discover()
    deployment = discovery.find("apps/v1", "Deployment")
    assert deployment is not None
    assert deployment.name == "deployments"
    assert deployment.namespaced
    assert {"list", "watch", "patch", "create", "delete"} <= deployment.verbs
    assert deployment.preferred
    namespace = discovery.find("v1", "Namespace")
    assert namespace is not None and not namespace.namespaced
    crd = discovery.find("apiextensions.k8s.io/v1", "CustomResourceDefinition")
    assert crd is not None and crd.preferred
    assert discovery.by_plural("", "v1", "configmaps") == discovery.find("v1", "ConfigMap")
    # Subresources are not resource types.
    assert all("/" not in r.name for r in discovery.resources)
    # Cached until refreshed.
    assert await kube.discover() is discovery
    assert await kube.discover(refresh=True) is not discovery


async def test_get_list_and_pagination(kube: KubeClient, namespace: str) -> None:
    for i in range(7):
        await kube.create(_configmap(f"cm-{i}", namespace, {"i": str(i)}))
    got = await kube.get("v1", "ConfigMap", "cm-3", namespace)
    assert got["data"] == {"i": "3"}
    page = await kube.list_page("v1", "ConfigMap", namespace, limit=3)
    assert len(page.items) == 3 and page.continue_token
    assert page.items[0]["kind"] == "ConfigMap" and page.items[0]["apiVersion"] == "v1"
    everything = await kube.list("v1", "ConfigMap", namespace, limit=3)
    names = {item["metadata"]["name"] for item in everything.items}
    assert {f"cm-{i}" for i in range(7)} <= names
    assert everything.resource_version
    with pytest.raises(NotFound) as caught:
        await kube.get("v1", "ConfigMap", "missing", namespace)
    assert caught.value.status == 404 and caught.value.name == "missing"
    with pytest.raises(AlreadyExists):
        await kube.create(_configmap("cm-0", namespace, {}))


async def test_server_side_apply_create_dry_run_and_conflict(
    kube: KubeClient, namespace: str, control_plane: ControlPlane
) -> None:
    created = await kube.apply(_configmap("ssa", namespace, {"a": "1"}), field_manager="argosy-test")
    assert created["data"] == {"a": "1"}
    managers = {m["manager"] for m in created["metadata"]["managedFields"]}
    assert "argosy-test" in managers

    predicted = await kube.apply(
        _configmap("ssa", namespace, {"a": "2"}), field_manager="argosy-test", dry_run=True
    )
    assert predicted["data"] == {"a": "2"}
    live = await kube.get("v1", "ConfigMap", "ssa", namespace)
    assert live["data"] == {"a": "1"}
    assert live["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]

    # Dry-run of a new object predicts it and creates nothing.
    await kube.apply(_configmap("ghost", namespace, {"x": "y"}), field_manager="argosy-test", dry_run=True)
    with pytest.raises(NotFound):
        await kube.get("v1", "ConfigMap", "ghost", namespace)

    with pytest.raises(Conflict) as caught:
        await kube.apply(_configmap("ssa", namespace, {"a": "other"}), field_manager="intruder")
    assert caught.value.managers == ("argosy-test",)
    assert "argosy-test" in str(caught.value)
    forced = await kube.apply(
        _configmap("ssa", namespace, {"a": "other"}), field_manager="intruder", force=True
    )
    assert forced["data"] == {"a": "other"}

    # A field changed by kubectl (another manager) conflicts as well.
    control_plane.kubectl(
        "-n", namespace, "patch", "configmap", "ssa", "--type=merge", "-p", '{"data":{"a":"k"}}'
    )
    with pytest.raises(Conflict) as caught:
        await kube.apply(_configmap("ssa", namespace, {"a": "mine"}), field_manager="intruder")
    assert caught.value.managers and "kubectl" in caught.value.managers[0]


async def test_invalid_and_secret_values_are_not_echoed(kube: KubeClient, namespace: str) -> None:
    with pytest.raises(Invalid) as caught:
        await kube.apply(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": "Bad_Name", "namespace": namespace},
                "stringData": {"password": "hunter2-very-secret"},
            },
            field_manager="argosy-test",
        )
    assert "Bad_Name" in str(caught.value)
    assert "hunter2-very-secret" not in str(caught.value)
    assert caught.value.causes


async def test_replace_patch_and_delete_foreground(kube: KubeClient, namespace: str) -> None:
    cm = await kube.create(_configmap("rp", namespace, {"a": "1"}))
    cm["data"] = {"a": "2"}
    replaced = await kube.replace(cm)
    assert replaced["data"] == {"a": "2"}
    with pytest.raises(Conflict):
        await kube.replace(cm)  # stale resourceVersion
    merged = await kube.patch("v1", "ConfigMap", "rp", {"data": {"b": "3"}}, namespace)
    assert merged["data"] == {"a": "2", "b": "3"}
    jsoned = await kube.patch(
        "v1", "ConfigMap", "rp", [{"op": "remove", "path": "/data/a"}], namespace, patch_type="json"
    )
    assert jsoned["data"] == {"b": "3"}

    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "fg", "namespace": namespace},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "fg"}},
            "template": {
                "metadata": {"labels": {"app": "fg"}},
                "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]},
            },
        },
    }
    await kube.apply(deployment, field_manager="argosy-test")
    result = await kube.delete("apps/v1", "Deployment", "fg", namespace, propagation_policy="Foreground")
    assert result is not None
    # Foreground deletion: the object lingers with the foregroundDeletion finalizer until its
    # dependents are gone, or is already gone.
    if result.get("kind") == "Deployment":
        assert "foregroundDeletion" in (result["metadata"].get("finalizers") or [])
    for _ in range(100):
        try:
            await kube.get("apps/v1", "Deployment", "fg", namespace)
        except NotFound:
            break
        await asyncio.sleep(0.1)
    else:
        pytest.fail("the deployment was not deleted")
    with pytest.raises(NotFound):
        await kube.delete("v1", "ConfigMap", "absent", namespace)


async def test_watch_sees_added_modified_deleted(kube: KubeClient, namespace: str) -> None:
    start = await kube.list("v1", "ConfigMap", namespace)
    events: list[WatchEvent] = []

    async def consume() -> None:
        stream = kube.watch("v1", "ConfigMap", namespace, resource_version=start.resource_version)
        async with contextlib.aclosing(stream) as watch:
            async for event in watch:
                if event.type == "BOOKMARK" or event.object["metadata"]["name"] != "w":
                    continue
                events.append(event)
                if event.type == "DELETED":
                    return

    task = asyncio.create_task(consume())
    await kube.create(_configmap("w", namespace, {"v": "1"}))
    await kube.patch("v1", "ConfigMap", "w", {"data": {"v": "2"}}, namespace)
    await kube.delete("v1", "ConfigMap", "w", namespace)
    await asyncio.wait_for(task, timeout=15)
    assert [e.type for e in events] == ["ADDED", "MODIFIED", "DELETED"]
    assert events[1].object["data"] == {"v": "2"}
    assert events[0].object["kind"] == "ConfigMap"
