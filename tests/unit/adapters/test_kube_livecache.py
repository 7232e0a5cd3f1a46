"""ClusterCache over httpx.MockTransport: relist after 410, exclusions, tracking, filters."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from argosy.adapters.kube.livecache import (
    DEFAULT_EXCLUSIONS,
    CacheOptions,
    ChangeBatch,
    ClusterCache,
    ResourceFilter,
    ResourceSettings,
    TrackingMethod,
    parse_resource_filters,
    tracking_app,
)
from argosy.model.resources import GroupKind, ResourceKey
from tests.unit.adapters._fakes import HangingStream, json_response, make_client, status

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _cm(name: str, rv: str, app: str | None = None) -> dict[str, Any]:
    annotations = {"argocd.argoproj.io/tracking-id": f"{app}:/ConfigMap:ns/{name}"} if app else {}
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": name,
            "namespace": "ns",
            "resourceVersion": rv,
            "uid": f"u-{name}",
            "annotations": annotations,
        },
    }


async def test_watch_410_leads_to_a_relist() -> None:
    lists = {"n": 0}
    paths: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        params = request.url.params
        path = request.url.path
        paths.append(path)
        if path == "/api/v1/configmaps" and "watch" not in params:
            lists["n"] += 1
            assert params["limit"] == "500"
            items = [_cm("a", "5", "app1")] if lists["n"] == 1 else [_cm("b", "15", "app2")]
            rv = "10" if lists["n"] == 1 else "20"
            return json_response(200, {"metadata": {"resourceVersion": rv}, "items": items})
        if path == "/api/v1/configmaps":
            if params["resourceVersion"] == "10":
                return json_response(410, status(410, "Expired", "too old resource version: 10 (19)"))
            added = {"type": "ADDED", "object": _cm("c", "21", "app2")}
            return httpx.Response(200, stream=HangingStream([added], asyncio.Event()))
        if "watch" in params:
            return httpx.Response(200, stream=HangingStream([], asyncio.Event()))
        return json_response(200, {"metadata": {"resourceVersion": "1"}, "items": []})

    async with make_client(handler) as kube:
        cache = ClusterCache(kube, options=CacheOptions(batch_interval=0.01))
        batches: list[ChangeBatch] = []

        async def collect(batch: ChangeBatch) -> None:
            batches.append(batch)

        cache.subscribe(collect)
        await cache.start(timeout=5)
        try:
            async with asyncio.timeout(5):
                while ResourceKey("", "ConfigMap", "ns", "c") not in cache:
                    await asyncio.sleep(0.01)
            assert cache.relists[GroupKind("", "ConfigMap")] == 2
            assert set(cache.keys(GroupKind("", "ConfigMap"))) == {
                ResourceKey("", "ConfigMap", "ns", "b"),
                ResourceKey("", "ConfigMap", "ns", "c"),
            }
            assert set(cache.snapshot("app2")) == {
                ResourceKey("", "ConfigMap", "ns", "b"),
                ResourceKey("", "ConfigMap", "ns", "c"),
            }
            assert cache.snapshot("app1") == {}
            await cache.flush()
        finally:
            await cache.stop()
    changes = {(app, c.key.name, c.type) for b in batches for app, cs in b.apps.items() for c in cs}
    assert ("app1", "a", "DELETED") in changes
    assert ("app2", "b", "ADDED") in changes
    assert ("app2", "c", "ADDED") in changes
    # Excluded (Endpoints) and non-watchable (Binding) types are never listed.
    assert "/api/v1/endpoints" not in paths
    assert "/api/v1/bindings" not in paths
    watched = {r.group_kind for r in cache.watched_types}
    assert GroupKind("", "Endpoints") not in watched
    assert GroupKind("apps", "Deployment") in watched


async def test_errors_are_retried_with_backoff() -> None:
    calls = {"n": 0}

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/v1/pods" and "watch" not in request.url.params:
            calls["n"] += 1
            if calls["n"] < 3:
                return json_response(500, status(500, "InternalError", "etcd is sad"))
        if "watch" in request.url.params:
            return httpx.Response(200, stream=HangingStream([], asyncio.Event()))
        return json_response(200, {"metadata": {"resourceVersion": "1"}, "items": []})

    async with make_client(handler) as kube:
        cache = ClusterCache(kube, options=CacheOptions(backoff_initial=0.01, backoff_max=0.02))
        await cache.start(timeout=5)
        await cache.stop()
    assert calls["n"] == 3


def test_parse_filters_and_exclusion_rules() -> None:
    text = """
- apiGroups: ["*.example.io"]
  kinds: ["Widget*"]
  clusters: ["https://prod-*"]
- apiGroups: [""]
  kinds: [ConfigMap]
"""
    filters = parse_resource_filters(text)
    assert filters[0] == ResourceFilter(("*.example.io",), ("Widget*",), ("https://prod-*",))
    settings = ResourceSettings.from_configmap({"resource.exclusions": text})
    assert settings.is_excluded("a.example.io", "WidgetSet", "https://prod-1")
    assert not settings.is_excluded("a.example.io", "WidgetSet", "https://staging")
    assert settings.is_excluded("", "ConfigMap", "any")
    # Replacing the exclusions drops the defaults, but Events stay excluded.
    assert not settings.is_excluded("coordination.k8s.io", "Lease", "any")
    assert settings.is_excluded("", "Event", "any")
    assert settings.is_excluded("events.k8s.io", "Event", "any")

    defaults = ResourceSettings.from_configmap({})
    assert defaults.exclusions == DEFAULT_EXCLUSIONS
    for group, kind in [
        ("coordination.k8s.io", "Lease"),
        ("", "Endpoints"),
        ("discovery.k8s.io", "EndpointSlice"),
        ("authorization.k8s.io", "SubjectAccessReview"),
        ("certificates.k8s.io", "CertificateSigningRequest"),
        ("cert-manager.io", "CertificateRequest"),
        ("wgpolicyk8s.io", "PolicyReport"),
        ("cilium.io", "CiliumIdentity"),
    ]:
        assert defaults.is_excluded(group, kind, "c"), (group, kind)
    assert not defaults.is_excluded("apps", "Deployment", "c")

    only_apps = ResourceSettings.from_configmap({"resource.inclusions": "- apiGroups: [apps]\n"})
    assert not only_apps.is_excluded("apps", "Deployment", "c")
    assert only_apps.is_excluded("", "ConfigMap", "c")

    for bad in ("{a: 1}", "- kinds: Foo", "- nope: [x]", "- [x"):
        with pytest.raises(ValueError, match=r"resource\.exclusions"):
            parse_resource_filters(bad)
    with pytest.raises(ValueError, match="resourceTrackingMethod"):
        ResourceSettings.from_configmap({"application.resourceTrackingMethod": "magic"})


def test_tracking_app() -> None:
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "web",
            "namespace": "prod",
            "labels": {"app.kubernetes.io/instance": "label-app"},
            "annotations": {"argocd.argoproj.io/tracking-id": "shop:apps/Deployment:prod/web"},
        },
    }
    assert tracking_app(deployment) == "shop"
    assert tracking_app(deployment, method=TrackingMethod.LABEL) == "label-app"
    assert tracking_app(deployment, method=TrackingMethod.ANNOTATION_LABEL) == "shop"
    # A copied annotation (ReplicaSet of the Deployment) does not make the copy tracked.
    replica_set = {
        **deployment,
        "kind": "ReplicaSet",
        "metadata": {**deployment["metadata"], "name": "web-1"},
    }
    assert tracking_app(replica_set) is None
    cluster_role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {
            "name": "r",
            "annotations": {"argocd.argoproj.io/tracking-id": "ops:rbac.authorization.k8s.io/ClusterRole:/r"},
        },
    }
    assert tracking_app(cluster_role) == "ops"
    assert tracking_app(cluster_role, installation_id="other") is None
    assert tracking_app({"metadata": {"annotations": {"argocd.argoproj.io/tracking-id": "garbage"}}}) is None


async def test_dependents_seen_before_their_owner_are_reported_when_the_owner_arrives() -> None:
    # Each type has its own watch, so a ConfigMap owned by a tracked ClusterRole can arrive first.
    from argosy.adapters.kube.client import WatchEvent  # noqa: PLC0415
    from argosy.adapters.kube.discovery import APIResource  # noqa: PLC0415

    def handler(request: httpx.Request) -> httpx.Response:
        return json_response(200, {"metadata": {"resourceVersion": "1"}, "items": []})

    async with make_client(handler) as kube:
        cache = ClusterCache(kube, options=CacheOptions(batch_interval=0.01))
        batches: list[ChangeBatch] = []

        async def collect(batch: ChangeBatch) -> None:
            batches.append(batch)

        cache.subscribe(collect)
        configmaps = APIResource("", "v1", "ConfigMap", "configmaps", True)
        roles = APIResource("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", False)
        child = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": "child",
                "namespace": "ns",
                "uid": "u-child",
                "resourceVersion": "2",
                "ownerReferences": [
                    {
                        "apiVersion": "rbac.authorization.k8s.io/v1",
                        "kind": "ClusterRole",
                        "name": "r",
                        "uid": "u-r",
                    }
                ],
            },
        }
        role = {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {
                "name": "r",
                "uid": "u-r",
                "resourceVersion": "3",
                "annotations": {
                    "argocd.argoproj.io/tracking-id": "app1:rbac.authorization.k8s.io/ClusterRole:/r"
                },
            },
        }
        # What discovery tells the cache before any watch starts: ClusterRoles are cluster-scoped.
        cache._namespaced[roles.group_kind] = False
        cache._apply_event(configmaps, WatchEvent("ADDED", child))
        await cache.flush()
        assert batches == []  # nobody owns the child yet
        cache._apply_event(roles, WatchEvent("ADDED", role))
        await cache.flush()
    changes = {(app, c.key.name, c.type) for b in batches for app, cs in b.apps.items() for c in cs}
    assert ("app1", "r", "ADDED") in changes
    assert ("app1", "child", "ADDED") in changes
    assert cache.app_of(ResourceKey("", "ConfigMap", "ns", "child")) == "app1"
