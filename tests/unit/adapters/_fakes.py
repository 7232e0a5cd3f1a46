"""A tiny in-memory apiserver for httpx.MockTransport (discovery, list pages, watches)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx

from argosy.adapters.kube import KubeClient, KubeConfig

CORE_RESOURCES = {
    "resources": [
        {
            "name": "configmaps",
            "kind": "ConfigMap",
            "namespaced": True,
            "verbs": ["get", "list", "watch", "create"],
        },
        {"name": "namespaces", "kind": "Namespace", "namespaced": False, "verbs": ["get", "list", "watch"]},
        {"name": "pods", "kind": "Pod", "namespaced": True, "verbs": ["get", "list", "watch"]},
        {"name": "pods/status", "kind": "Pod", "namespaced": True, "verbs": ["get", "patch"]},
        {
            "name": "secrets",
            "kind": "Secret",
            "namespaced": True,
            "verbs": ["get", "list", "watch", "create"],
        },
        {"name": "endpoints", "kind": "Endpoints", "namespaced": True, "verbs": ["get", "list", "watch"]},
        {"name": "bindings", "kind": "Binding", "namespaced": True, "verbs": ["create"]},
    ]
}


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, content=json.dumps(body).encode(), headers=headers or {})


def status(code: int, reason: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "status": "Failure",
        "code": code,
        "reason": reason,
        "message": message,
        "details": details or {},
    }


class HangingStream(httpx.AsyncByteStream):
    """Yields ``lines`` then blocks until ``release`` is set (a watch that stays open)."""

    def __init__(self, lines: list[dict[str, Any]], release: asyncio.Event | None = None) -> None:
        self.lines = lines
        self.release = release

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for line in self.lines:
            yield (json.dumps(line) + "\n").encode()
        if self.release is not None:
            await self.release.wait()


def discovery_routes(request: httpx.Request) -> httpx.Response | None:
    path = request.url.path
    if path == "/api":
        return json_response(200, {"kind": "APIVersions", "versions": ["v1"]})
    if path == "/apis":
        return json_response(
            200,
            {
                "kind": "APIGroupList",
                "groups": [
                    {
                        "name": "apps",
                        "versions": [{"groupVersion": "apps/v1", "version": "v1"}],
                        "preferredVersion": {"groupVersion": "apps/v1", "version": "v1"},
                    },
                    {
                        "name": "metrics.example.io",
                        "versions": [{"groupVersion": "metrics.example.io/v1beta1", "version": "v1beta1"}],
                        "preferredVersion": {
                            "groupVersion": "metrics.example.io/v1beta1",
                            "version": "v1beta1",
                        },
                    },
                ],
            },
        )
    if path == "/api/v1":
        return json_response(200, CORE_RESOURCES)
    if path == "/apis/apps/v1":
        return json_response(
            200,
            {
                "resources": [
                    {
                        "name": "deployments",
                        "kind": "Deployment",
                        "namespaced": True,
                        "verbs": ["get", "list", "watch", "patch"],
                    },
                    {"name": "deployments/scale", "kind": "Scale", "namespaced": True, "verbs": ["get"]},
                ]
            },
        )
    if path == "/apis/metrics.example.io/v1beta1":
        return json_response(
            503, status(503, "ServiceUnavailable", "the server is currently unable to handle the request")
        )
    return None


def make_client(handler: Callable[[httpx.Request], Any]) -> KubeClient:
    async def route(request: httpx.Request) -> httpx.Response:
        found = discovery_routes(request)
        if found is not None:
            return found
        result = handler(request)
        if asyncio.iscoroutine(result):
            result = await result
        assert isinstance(result, httpx.Response), f"unexpected request {request.method} {request.url}"
        return result

    return KubeClient(
        KubeConfig(server="https://kube.test", namespace="default"), transport=httpx.MockTransport(route)
    )
