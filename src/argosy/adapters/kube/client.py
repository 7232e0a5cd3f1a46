"""``KubeClient``: a thin async REST client for the Kubernetes API on httpx.

Objects are plain ``dict``s (decoded JSON). Types are addressed by ``apiVersion`` and ``kind`` and
resolved to REST paths through cached discovery (refreshed once on a miss, so new CRDs are found).
Every HTTP failure becomes a typed :mod:`argosy.adapters.kube.errors` error; nothing here logs
or formats request bodies.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import builtins
import contextlib
import json
from collections.abc import AsyncGenerator, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Self
from urllib.parse import urlencode

import httpx

from argosy.adapters.kube.config import KubeConfig, load_kubeconfig
from argosy.adapters.kube.discovery import APIResource, Discovery, parse_resource_list
from argosy.adapters.kube.errors import (
    ConnectionFailed,
    KubeError,
    NotFound,
    Timeout,
    error_from_response,
)
from argosy.adapters.kube.requestinfo import request_info
from argosy.model.resources import GroupKind
from argosy.ports.metrics import KubeRequestObserver

__all__ = ["KubeClient", "ListResult", "PatchType", "PropagationPolicy", "WatchEvent"]

PatchType = Literal["merge", "json", "strategic"]
PropagationPolicy = Literal["Foreground", "Background", "Orphan"]

_PATCH_CONTENT_TYPES: dict[str, str] = {
    "merge": "application/merge-patch+json",
    "json": "application/json-patch+json",
    "strategic": "application/strategic-merge-patch+json",
}
_APPLY_CONTENT_TYPE = "application/apply-patch+yaml"


@dataclass(frozen=True, slots=True)
class ListResult:
    """Items of a list (all pages, or one page), the list's resourceVersion and the continue token."""

    items: list[dict[str, Any]]
    resource_version: str
    continue_token: str = ""


@dataclass(frozen=True, slots=True)
class WatchEvent:
    """``ADDED``, ``MODIFIED``, ``DELETED`` or ``BOOKMARK`` with the object (for BOOKMARK only metadata)."""

    type: str
    object: dict[str, Any] = field(repr=False)

    @property
    def resource_version(self) -> str:
        return str((self.object.get("metadata") or {}).get("resourceVersion") or "")


def _secret_values(obj: Mapping[str, Any] | None) -> list[str]:
    """The values of a Secret manifest's ``data``/``stringData`` (encoded and decoded), to mask."""
    if not obj or obj.get("kind") != "Secret":
        return []
    values: list[str] = []
    for key in ("data", "stringData"):
        section = obj.get(key)
        if not isinstance(section, Mapping):
            continue
        for value in section.values():
            text = str(value)
            values.append(text)
            if key == "data":
                with contextlib.suppress(binascii.Error, ValueError):
                    values.append(base64.b64decode(text, validate=True).decode("utf-8"))
    return values


class KubeClient:
    """Async client for one apiserver. Use as ``async with KubeClient(config) as kube``.

    ``transport`` replaces the network (tests pass ``httpx.MockTransport``). ``http2`` is off by
    default: with httpx/httpcore's HTTP/2 (``h2``), several concurrent watch streams on one
    connection stopped delivering events (see docs/kube.md); HTTP/1.1 uses one connection per watch.
    ``observer`` is told about every request (``argocd_app_k8s_request_total``; docs/metrics.md).
    """

    def __init__(
        self,
        config: KubeConfig,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 30.0,
        http2: bool = False,
        user_agent: str = "argosy",
        discovery_concurrency: int = 16,
        observer: KubeRequestObserver | None = None,
    ) -> None:
        self.config = config
        self.observer = observer
        self._timeout = timeout
        headers = {"Accept": "application/json", "User-Agent": user_agent, **config.headers()}
        self._http = httpx.AsyncClient(
            base_url=config.server,
            verify=config.ssl_context if config.ssl_context is not None else True,
            http2=http2 and transport is None,
            transport=transport,
            headers=headers,
            timeout=httpx.Timeout(timeout),
            # Watches hold a connection each under HTTP/1.1: do not cap the pool.
            limits=httpx.Limits(max_connections=None, max_keepalive_connections=32),
            trust_env=False,
        )
        self._extensions: dict[str, Any] = (
            {"sni_hostname": config.tls_server_name} if config.tls_server_name else {}
        )
        self._discovery: Discovery | None = None
        self._discovery_lock = asyncio.Lock()
        self._discovery_concurrency = discovery_concurrency

    @classmethod
    def from_kubeconfig(
        cls, path: str | None = None, *, context: str | None = None, **kwargs: Any
    ) -> KubeClient:
        """Build a client from a kubeconfig file (default ``$KUBECONFIG`` or ``~/.kube/config``)."""
        return cls(load_kubeconfig(path, context=context), **kwargs)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    @property
    def default_namespace(self) -> str:
        return self.config.namespace

    # --- transport -------------------------------------------------------------------------------

    async def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Mapping[str, Any] | list[Any] | None = None,
        content_type: str = "application/json",
        subject: tuple[str, str, str] = ("", "", ""),
        secrets: Iterable[str] = (),
    ) -> Any:
        headers = {"Content-Type": content_type} if body is not None else None
        # Compact JSON, and the query string built here: httpx would merge a params mapping into
        # the URL with several parses per request (CPU that a sync of many objects pays per write).
        content = json.dumps(body, separators=(",", ":")).encode() if body is not None else None
        url = f"{path}?{urlencode(params)}" if params else path
        try:
            response = await self._http.request(
                method, url, content=content, headers=headers, extensions=self._extensions
            )
        except httpx.TimeoutException as exc:
            self._observe(method, path, params, 0)
            raise Timeout(f"{method} {path}: timed out ({type(exc).__name__})", retry_after=1.0) from None
        except httpx.TransportError as exc:
            self._observe(method, path, params, 0)
            raise ConnectionFailed(f"{method} {path}: {type(exc).__name__}: {exc}", retry_after=1.0) from None
        self._observe(method, path, params, response.status_code)
        if response.status_code >= 400:
            raise self._error(response, subject, secrets)
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise KubeError(f"{method} {path}: the apiserver returned a non-JSON body") from None

    def _observe(self, method: str, path: str, params: Mapping[str, str] | None, status: int) -> None:
        if self.observer is None:
            return
        info = request_info(method, path, params)
        try:
            self.observer.record_kube_request(
                server=self.config.server,
                verb=info.verb,
                resource_kind=info.resource,
                resource_namespace=info.namespace,
                response_code=status,
            )
        except Exception:  # metrics never break a request
            return

    @staticmethod
    def _error(
        response: httpx.Response, subject: tuple[str, str, str], secrets: Iterable[str] = ()
    ) -> KubeError:
        try:
            body: Any = response.json()
        except ValueError:
            body = response.text
        kind, namespace, name = subject
        return error_from_response(
            response.status_code,
            body,
            headers=response.headers,
            kind=kind,
            namespace=namespace,
            name=name,
            secrets=secrets,
        )

    async def server_version(self) -> dict[str, Any]:
        """The apiserver's ``/version`` (``major``, ``minor``, ``gitVersion``...)."""
        body = await self._request("GET", "/version")
        return dict(body) if isinstance(body, Mapping) else {}

    # --- discovery -------------------------------------------------------------------------------

    async def discover(self, *, refresh: bool = False) -> Discovery:
        """Every served resource type (cached; ``refresh`` re-reads it from the apiserver).

        Group-versions whose discovery fails (unavailable aggregated APIs) are recorded in
        ``Discovery.failed`` and skipped; a failure of ``/api`` or ``/apis`` itself raises.
        """
        async with self._discovery_lock:
            if self._discovery is None or refresh:
                self._discovery = await self._discover()
            return self._discovery

    async def _discover(self) -> Discovery:
        core, groups = await asyncio.gather(self._request("GET", "/api"), self._request("GET", "/apis"))
        group_versions: dict[str, list[str]] = {"": [str(v) for v in (core or {}).get("versions") or []]}
        for group in (groups or {}).get("groups") or []:
            name = str(group.get("name") or "")
            versions = [str(v.get("version")) for v in group.get("versions") or []]
            preferred = str((group.get("preferredVersion") or {}).get("version") or "")
            if preferred in versions:
                versions.remove(preferred)
                versions.insert(0, preferred)
            group_versions[name] = versions
        semaphore = asyncio.Semaphore(self._discovery_concurrency)

        async def fetch(group: str, version: str) -> list[APIResource]:
            path = f"/apis/{group}/{version}" if group else f"/api/{version}"
            async with semaphore:
                body = await self._request("GET", path)
            return parse_resource_list(group, version, body or {})

        pairs = [(g, v) for g, vs in group_versions.items() for v in vs]
        results = await asyncio.gather(*(fetch(g, v) for g, v in pairs), return_exceptions=True)
        resources: list[APIResource] = []
        failed: dict[str, str] = {}
        for (group, version), result in zip(pairs, results, strict=True):
            gv = f"{group}/{version}" if group else version
            if isinstance(result, KubeError):
                failed[gv] = str(result)
            elif isinstance(result, BaseException):
                raise result
            else:
                resources.extend(result)
        return Discovery.build(group_versions, resources, failed)

    async def resource(self, api_version: str, kind: str) -> APIResource:
        """The resource type for ``apiVersion``/``kind``; refreshes discovery once on a miss."""
        found = (await self.discover()).find(api_version, kind)
        if found is None:
            found = (await self.discover(refresh=True)).find(api_version, kind)
        if found is None:
            raise NotFound(f"the server does not serve kind {kind!r} in {api_version!r}", status=404)
        return found

    async def preferred_resource(self, group_kind: GroupKind) -> APIResource:
        """The preferred-version resource type of a group/kind; refreshes discovery once on a miss."""
        found = (await self.discover()).preferred(group_kind)
        if found is None:
            found = (await self.discover(refresh=True)).preferred(group_kind)
        if found is None:
            raise NotFound(f"the server does not serve {group_kind}", status=404)
        return found

    def _namespace(self, res: APIResource, namespace: str | None) -> str | None:
        if not res.namespaced:
            return None
        return namespace or self.config.namespace

    async def _object_target(self, obj: Mapping[str, Any]) -> tuple[APIResource, str | None, str]:
        api_version, kind = str(obj.get("apiVersion") or ""), str(obj.get("kind") or "")
        if not api_version or not kind:
            raise KubeError("the object has no apiVersion or kind")
        res = await self.resource(api_version, kind)
        metadata = obj.get("metadata") or {}
        name = str(metadata.get("name") or "")
        return res, self._namespace(res, metadata.get("namespace")), name

    # --- reads -----------------------------------------------------------------------------------

    async def get(
        self, api_version: str, kind: str, name: str, namespace: str | None = None
    ) -> dict[str, Any]:
        res = await self.resource(api_version, kind)
        ns = self._namespace(res, namespace)
        result: dict[str, Any] = await self._request(
            "GET", res.path(ns, name), subject=(kind, ns or "", name)
        )
        return result

    async def list_page(
        self,
        api_version: str,
        kind: str,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
        limit: int = 500,
        continue_token: str | None = None,
        resource_version: str | None = None,
    ) -> ListResult:
        """One page of a list. ``namespace`` None lists across all namespaces."""
        res = await self.resource(api_version, kind)
        params: dict[str, str] = {"limit": str(limit)}
        if label_selector:
            params["labelSelector"] = label_selector
        if field_selector:
            params["fieldSelector"] = field_selector
        if continue_token:
            params["continue"] = continue_token
        elif resource_version is not None:
            params["resourceVersion"] = resource_version
        ns = namespace if res.namespaced else None
        body = await self._request("GET", res.path(ns), params=params, subject=(kind, ns or "", ""))
        meta = (body or {}).get("metadata") or {}
        items: list[dict[str, Any]] = list((body or {}).get("items") or [])
        # List items carry no apiVersion/kind: put them back so each item is a full object.
        for item in items:
            item.setdefault("apiVersion", res.api_version)
            item.setdefault("kind", res.kind)
        return ListResult(
            items=items,
            resource_version=str(meta.get("resourceVersion") or ""),
            continue_token=str(meta.get("continue") or ""),
        )

    async def list(
        self,
        api_version: str,
        kind: str,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
        limit: int = 500,
    ) -> ListResult:
        """Every item, following ``continue`` tokens page by page (``limit`` per page).

        The result's resourceVersion is the one of the first page (a consistent snapshot); a
        :class:`Gone` while paging means the snapshot expired and the caller should list again.
        """
        items: list[dict[str, Any]] = []
        token: str | None = None
        resource_version = ""
        while True:
            page = await self.list_page(
                api_version,
                kind,
                namespace,
                label_selector=label_selector,
                field_selector=field_selector,
                limit=limit,
                continue_token=token,
            )
            items.extend(page.items)
            resource_version = resource_version or page.resource_version
            if not page.continue_token:
                return ListResult(items=items, resource_version=page.resource_version or resource_version)
            token = page.continue_token

    async def watch(
        self,
        api_version: str,
        kind: str,
        namespace: str | None = None,
        *,
        resource_version: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        timeout_seconds: int = 300,
        allow_bookmarks: bool = True,
    ) -> AsyncGenerator[WatchEvent, None]:
        """Stream watch events until the server ends the watch (after ``timeout_seconds``).

        An expired ``resource_version`` raises :class:`~argosy.adapters.kube.errors.Gone` (either
        as HTTP 410 or as an ERROR event): list again and watch from the new version. Close the
        iterator (``contextlib.aclosing``) when stopping early.
        """
        res = await self.resource(api_version, kind)
        params: dict[str, str] = {"watch": "true", "timeoutSeconds": str(timeout_seconds)}
        if allow_bookmarks:
            params["allowWatchBookmarks"] = "true"
        if resource_version is not None:
            params["resourceVersion"] = resource_version
        if label_selector:
            params["labelSelector"] = label_selector
        if field_selector:
            params["fieldSelector"] = field_selector
        ns = namespace if res.namespaced else None
        path = res.path(ns)
        timeout = httpx.Timeout(self._timeout, read=timeout_seconds + 30.0)
        try:
            async with self._http.stream(
                "GET", path, params=params, timeout=timeout, extensions=self._extensions
            ) as response:
                self._observe("GET", path, params, response.status_code)
                if response.status_code >= 400:
                    await response.aread()
                    raise self._error(response, (kind, ns or "", ""))
                async for line in response.aiter_lines():
                    if not line.strip():
                        continue
                    try:
                        event = json.loads(line)
                    except ValueError:
                        raise KubeError(f"watch {path}: undecodable event line") from None
                    event_type = str(event.get("type") or "")
                    obj = event.get("object") or {}
                    if event_type == "ERROR":
                        code = int(obj.get("code") or 500)
                        raise error_from_response(code, obj, kind=kind, namespace=ns or "")
                    if event_type != "BOOKMARK":
                        obj.setdefault("apiVersion", res.api_version)
                        obj.setdefault("kind", res.kind)
                    yield WatchEvent(event_type, obj)
        except httpx.TimeoutException as exc:
            raise Timeout(f"watch {path}: timed out ({type(exc).__name__})", retry_after=1.0) from None
        except httpx.TransportError as exc:
            raise ConnectionFailed(f"watch {path}: {type(exc).__name__}: {exc}", retry_after=1.0) from None

    # --- writes ----------------------------------------------------------------------------------

    @staticmethod
    def _write_params(
        *, dry_run: bool, field_manager: str | None, force: bool = False, validate: bool | None = None
    ) -> dict[str, str]:
        params: dict[str, str] = {}
        if dry_run:
            params["dryRun"] = "All"
        if field_manager:
            params["fieldManager"] = field_manager
        if force:
            params["force"] = "true"
        if validate is not None:
            params["fieldValidation"] = "Strict" if validate else "Ignore"
        return params

    async def apply(
        self,
        obj: Mapping[str, Any],
        *,
        field_manager: str,
        force: bool = False,
        dry_run: bool = False,
        validate: bool | None = None,
    ) -> dict[str, Any]:
        """Server-side apply ``obj``; returns the resulting (or, with ``dry_run``, predicted) object.

        Without ``force`` a field owned by another manager raises
        :class:`~argosy.adapters.kube.errors.Conflict` whose ``managers`` names the owners.
        """
        res, ns, name = await self._object_target(obj)
        if not name:
            raise KubeError(f"cannot apply a {res.kind} without metadata.name")
        params = self._write_params(
            dry_run=dry_run, field_manager=field_manager, force=force, validate=validate
        )
        result: dict[str, Any] = await self._request(
            "PATCH",
            res.path(ns, name),
            params=params,
            body=obj,
            content_type=_APPLY_CONTENT_TYPE,
            subject=(res.kind, ns or "", name),
            secrets=_secret_values(obj),
        )
        return result

    async def create(
        self, obj: Mapping[str, Any], *, dry_run: bool = False, field_manager: str | None = None
    ) -> dict[str, Any]:
        res, ns, name = await self._object_target(obj)
        params = self._write_params(dry_run=dry_run, field_manager=field_manager)
        result: dict[str, Any] = await self._request(
            "POST",
            res.path(ns),
            params=params,
            body=obj,
            subject=(res.kind, ns or "", name),
            secrets=_secret_values(obj),
        )
        return result

    async def replace(
        self, obj: Mapping[str, Any], *, dry_run: bool = False, field_manager: str | None = None
    ) -> dict[str, Any]:
        """PUT the whole object; a stale ``metadata.resourceVersion`` raises Conflict."""
        res, ns, name = await self._object_target(obj)
        if not name:
            raise KubeError(f"cannot replace a {res.kind} without metadata.name")
        params = self._write_params(dry_run=dry_run, field_manager=field_manager)
        result: dict[str, Any] = await self._request(
            "PUT",
            res.path(ns, name),
            params=params,
            body=obj,
            subject=(res.kind, ns or "", name),
            secrets=_secret_values(obj),
        )
        return result

    async def patch(
        self,
        api_version: str,
        kind: str,
        name: str,
        patch: Mapping[str, Any] | builtins.list[Any],
        namespace: str | None = None,
        *,
        patch_type: PatchType = "merge",
        dry_run: bool = False,
        field_manager: str | None = None,
    ) -> dict[str, Any]:
        """Merge (RFC 7386), JSON (RFC 6902) or strategic-merge patch one object."""
        res = await self.resource(api_version, kind)
        ns = self._namespace(res, namespace)
        params = self._write_params(dry_run=dry_run, field_manager=field_manager)
        secrets = (
            _secret_values({**patch, "kind": "Secret"})
            if kind == "Secret" and isinstance(patch, Mapping)
            else []
        )
        result: dict[str, Any] = await self._request(
            "PATCH",
            res.path(ns, name),
            params=params,
            body=patch,
            content_type=_PATCH_CONTENT_TYPES[patch_type],
            subject=(kind, ns or "", name),
            secrets=secrets,
        )
        return result

    async def delete(
        self,
        api_version: str,
        kind: str,
        name: str,
        namespace: str | None = None,
        *,
        propagation_policy: PropagationPolicy | None = None,
        grace_period_seconds: int | None = None,
        dry_run: bool = False,
        preconditions: Mapping[str, str] | None = None,
    ) -> dict[str, Any] | None:
        """Delete one object; returns the object (still terminating) or the ``Status`` the server sent."""
        res = await self.resource(api_version, kind)
        ns = self._namespace(res, namespace)
        options: dict[str, Any] = {"kind": "DeleteOptions", "apiVersion": "v1"}
        if propagation_policy:
            options["propagationPolicy"] = propagation_policy
        if grace_period_seconds is not None:
            options["gracePeriodSeconds"] = grace_period_seconds
        if dry_run:
            options["dryRun"] = ["All"]
        if preconditions:
            options["preconditions"] = dict(preconditions)
        result: dict[str, Any] | None = await self._request(
            "DELETE", res.path(ns, name), body=options, subject=(kind, ns or "", name)
        )
        return result
