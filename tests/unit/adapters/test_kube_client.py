"""KubeClient over httpx.MockTransport: discovery, pagination, watch, error mapping, secret masking."""

from __future__ import annotations

import contextlib
import json

import httpx
import pytest

from argosy.adapters.kube import (
    AlreadyExists,
    Conflict,
    ConnectionFailed,
    Forbidden,
    Gone,
    Invalid,
    KubeError,
    NotFound,
    ServerError,
    TooManyRequests,
    Transient,
    Unauthorized,
)
from argosy.model.resources import GroupKind
from tests.unit.adapters._fakes import HangingStream, json_response, make_client, status

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_discovery_skips_subresources_and_tolerates_failing_groups() -> None:
    async with make_client(lambda r: None) as kube:
        discovery = await kube.discover()
        deployment = discovery.find("apps/v1", "Deployment")
        assert deployment is not None and deployment.preferred and deployment.namespaced
        assert deployment.path("ns", "web") == "/apis/apps/v1/namespaces/ns/deployments/web"
        assert discovery.find("v1", "Namespace") is not None
        assert discovery.find("v1", "Namespace").path(None, "x") == "/api/v1/namespaces/x"  # type: ignore[union-attr]
        assert discovery.preferred(GroupKind("", "Pod")) == discovery.by_plural("", "v1", "pods")
        assert all("/" not in r.name for r in discovery.resources)
        assert "metrics.example.io/v1beta1" in discovery.failed
        assert "503" in discovery.failed["metrics.example.io/v1beta1"]
        with pytest.raises(NotFound):
            await kube.resource("example.io/v1", "Nothing")


async def test_list_follows_continue_tokens() -> None:
    seen: list[dict[str, str]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        params = dict(request.url.params)
        seen.append(params)
        token = params.get("continue", "")
        page = {"": (["a", "b"], "c1", "100"), "c1": (["c", "d"], "c2", "100"), "c2": (["e"], "", "100")}[
            token
        ]
        names, next_token, rv = page
        return json_response(
            200,
            {
                "kind": "ConfigMapList",
                "metadata": {"resourceVersion": rv, "continue": next_token},
                "items": [{"metadata": {"name": n, "namespace": "ns"}} for n in names],
            },
        )

    async with make_client(handler) as kube:
        result = await kube.list("v1", "ConfigMap", "ns", limit=2)
    assert [i["metadata"]["name"] for i in result.items] == ["a", "b", "c", "d", "e"]
    assert result.items[0]["kind"] == "ConfigMap" and result.items[0]["apiVersion"] == "v1"
    assert result.resource_version == "100"
    assert [p.get("continue") for p in seen] == [None, "c1", "c2"]
    assert all(p["limit"] == "2" for p in seen)


async def test_watch_events_and_gone() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        rv = request.url.params.get("resourceVersion")
        assert request.url.params["watch"] == "true"
        assert request.url.params["allowWatchBookmarks"] == "true"
        if rv == "1":
            return json_response(410, status(410, "Expired", "too old resource version: 1 (50)"))
        if rv == "2":
            return httpx.Response(
                200, stream=HangingStream([{"type": "ERROR", "object": status(410, "Expired", "too old")}])
            )
        lines = [
            {"type": "ADDED", "object": {"metadata": {"name": "a", "resourceVersion": "11"}}},
            {"type": "BOOKMARK", "object": {"kind": "ConfigMap", "metadata": {"resourceVersion": "12"}}},
            {"type": "DELETED", "object": {"metadata": {"name": "a", "resourceVersion": "13"}}},
        ]
        return httpx.Response(200, stream=HangingStream(lines))

    async with make_client(handler) as kube:
        events = []
        async with contextlib.aclosing(kube.watch("v1", "ConfigMap", resource_version="10")) as stream:
            async for event in stream:
                events.append(event)
        assert [(e.type, e.resource_version) for e in events] == [
            ("ADDED", "11"),
            ("BOOKMARK", "12"),
            ("DELETED", "13"),
        ]
        assert events[0].object["kind"] == "ConfigMap"
        for rv in ("1", "2"):
            with pytest.raises(Gone):
                async with contextlib.aclosing(kube.watch("v1", "ConfigMap", resource_version=rv)) as stream:
                    async for _ in stream:
                        pass


@pytest.mark.parametrize(
    ("code", "body", "headers", "expected"),
    [
        (401, status(401, "Unauthorized", "Unauthorized"), {}, Unauthorized),
        (403, status(403, "Forbidden", 'configmaps "x" is forbidden'), {}, Forbidden),
        (404, status(404, "NotFound", 'configmaps "x" not found'), {}, NotFound),
        (409, status(409, "AlreadyExists", 'configmaps "x" already exists'), {}, AlreadyExists),
        (409, status(409, "Conflict", "the object has been modified"), {}, Conflict),
        (410, status(410, "Expired", "too old"), {}, Gone),
        (
            422,
            status(422, "Invalid", "bad", {"causes": [{"field": "metadata.name", "message": "bad"}]}),
            {},
            Invalid,
        ),
        (429, status(429, "TooManyRequests", "slow down"), {"Retry-After": "7"}, TooManyRequests),
        (503, "upstream connect error", {}, ServerError),
        (418, status(418, "Teapot", "short and stout"), {}, KubeError),
    ],
)
async def test_errors_are_typed(
    code: int, body: object, headers: dict[str, str], expected: type[KubeError]
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if isinstance(body, str):
            return httpx.Response(code, text=body, headers=headers)
        return json_response(code, body, headers)

    async with make_client(handler) as kube:
        with pytest.raises(expected) as caught:
            await kube.get("v1", "ConfigMap", "x", "ns")
    error = caught.value
    assert type(error) is expected
    assert error.status == code
    assert (error.kind, error.namespace, error.name) == ("ConfigMap", "ns", "x")
    assert error.retryable == isinstance(error, Transient)
    if isinstance(error, TooManyRequests):
        assert error.retry_after == 7.0
    if isinstance(error, ServerError):
        assert "upstream connect error" in error.message and error.retry_after is not None
    if isinstance(error, Invalid):
        assert error.causes == (("metadata.name", "bad"),)


async def test_connection_errors_are_transient() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    async with make_client(handler) as kube:
        with pytest.raises(ConnectionFailed) as caught:
            await kube.get("v1", "ConfigMap", "x", "ns")
    assert caught.value.retryable and caught.value.retry_after


async def test_apply_request_shape_and_conflict_managers() -> None:
    requests: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return json_response(
            409,
            status(
                409,
                "Conflict",
                'Apply failed with 2 conflicts: conflicts with "kubectl-edit" using v1:\n- .data.a\n'
                'conflicts with "helm" using v1:\n- .data.b',
            ),
        )

    async with make_client(handler) as kube:
        obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "1"}}
        with pytest.raises(Conflict) as caught:
            await kube.apply(obj, field_manager="argosy", dry_run=True)
    assert caught.value.managers == ("kubectl-edit", "helm")
    request = requests[0]
    assert request.method == "PATCH"
    assert request.url.path == "/api/v1/namespaces/default/configmaps/c"
    assert request.headers["content-type"] == "application/apply-patch+yaml"
    assert dict(request.url.params) == {"fieldManager": "argosy", "dryRun": "All"}
    assert json.loads(request.content) == obj


async def test_secret_values_never_reach_error_messages() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return json_response(
            422,
            status(
                422,
                "Invalid",
                'Secret "s" is invalid: data[token]: Invalid value: "s3cr3t-value": bad; c3VwZXJzZWNyZXQ=',
                {"causes": [{"field": "data[token]", "message": 'Invalid value: "s3cr3t-value"'}]},
            ),
        )

    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "s", "namespace": "ns"},
        "stringData": {"token": "s3cr3t-value"},
        "data": {"other": "c3VwZXJzZWNyZXQ="},
    }
    async with make_client(handler) as kube:
        for call in (kube.apply(secret, field_manager="m"), kube.create(secret), kube.replace(secret)):
            with pytest.raises(Invalid) as caught:
                await call
            text = f"{caught.value} {caught.value.causes} {caught.value!r}"
            assert "s3cr3t-value" not in text
            assert "c3VwZXJzZWNyZXQ=" not in text
            assert "***" in text


async def test_delete_sends_propagation_policy() -> None:
    bodies: list[dict[str, object]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(json.loads(request.content))
        assert request.method == "DELETE"
        assert request.url.path == "/apis/apps/v1/namespaces/ns/deployments/web"
        return json_response(200, {"kind": "Deployment", "metadata": {"name": "web"}})

    async with make_client(handler) as kube:
        result = await kube.delete("apps/v1", "Deployment", "web", "ns", propagation_policy="Foreground")
    assert result is not None and result["kind"] == "Deployment"
    assert bodies == [{"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Foreground"}]
