"""``/api/v1/settings``, ``/api/v1/stream/applications`` (SSE), ``/api/webhook``, health probes."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
from collections.abc import AsyncIterator, Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.sse import EventSourceResponse, ServerSentEvent

from argosy.api.common import APP_API, match_selector, parse_selector, strip_object
from argosy.api.context import Caller, allowed, audit, authenticate, ctx_of
from argosy.api.errors import GRPC_UNAVAILABLE, ApiError, bad_request, from_kube, unauthenticated
from argosy.core.sso import SsoConfigError, dex_connectors, parse_oidc_config
from argosy.model.repository import normalize_repo_url

__all__ = ["health", "settings", "stream", "webhook"]

log = logging.getLogger(__name__)
settings = APIRouter(prefix="/api/v1/settings", tags=["SettingsService"])
stream = APIRouter(prefix="/api/v1/stream", tags=["ApplicationService"])
webhook = APIRouter(tags=["Webhook"])
health = APIRouter(tags=["Health"])
CallerDep = Annotated[Caller, Depends(authenticate)]
REFRESH_ANNOTATION = "argocd.argoproj.io/refresh"
MAX_WEBHOOK_BYTES = 50 * 1024 * 1024  # Argo CD's webhook.maxPayloadSizeMB default


@settings.get("", summary="Public server settings (no secrets; no authentication, as in Argo CD)")
async def get_settings(request: Request) -> dict[str, Any]:
    cfg = await ctx_of(request).settings.load()
    cm = cfg.cm
    return {
        "url": cm.get("url", ""),
        "appLabelKey": cm.get("application.instanceLabelKey", "app.kubernetes.io/instance"),
        "trackingMethod": cm.get("application.resourceTrackingMethod", "annotation"),
        "statusBadgeEnabled": cm.get("statusbadge.enabled", "false") == "true",
        "execEnabled": cm.get("exec.enabled", "false") == "true",
        "userLoginsDisabled": cm.get("users.anonymous.enabled", "false") == "true" and False,
        "passwordPattern": cfg.password_pattern,
        "controllerNamespace": ctx_of(request).deps.namespace,
        **sso_settings(cm, cfg.secret),
    }


def sso_settings(cm: Mapping[str, str], secret: Mapping[str, str]) -> dict[str, Any]:
    """Argo CD's ``oidcConfig`` (name, issuer, clientID, scopes; never the secret) and
    ``dexConfig.connectors`` (id, name, type), for the UI's SSO buttons. Unreadable config is left out."""
    out: dict[str, Any] = {}
    try:
        oidc = parse_oidc_config(cm.get("oidc.config", ""), dict(secret))
    except SsoConfigError:
        oidc = None
    if oidc is not None:
        out["oidcConfig"] = oidc.public()
    try:
        connectors = dex_connectors(cm.get("dex.config", ""))
    except SsoConfigError:
        connectors = []
    if connectors:
        out["dexConfig"] = {"connectors": [{"id": c.id, "name": c.name, "type": c.type} for c in connectors]}
    return out


# -- SSE ----------------------------------------------------------------------------------------


def _wanted(app: Mapping[str, Any], name: str | None, projects: set[str], reqs: list[Any]) -> bool:
    meta = app.get("metadata") or {}
    if name and meta.get("name") != name:
        return False
    if projects and str((app.get("spec") or {}).get("project") or "default") not in projects:
        return False
    return not reqs or match_selector(meta.get("labels") or {}, reqs)


@stream.get("/applications", response_class=EventSourceResponse, summary="Application changes (SSE)")
async def stream_applications(
    request: Request,
    *,
    caller: CallerDep,
    name: str | None = None,
    projects: Annotated[list[str] | None, Query()] = None,
    selector: str | None = None,
    resourceVersion: str | None = None,
    once: bool = False,
) -> AsyncIterator[ServerSentEvent]:
    """Each event's data is ``{"result": {"type": ADDED|MODIFIED|DELETED, "application": {...}}}``
    (grpc-gateway's stream shape). The current state comes first as ADDED events; ``once`` stops there."""
    ctx = ctx_of(request)
    reqs = parse_selector(selector) if selector else []
    wanted_projects = set(projects or [])
    try:
        initial = await ctx.deps.kube.list(APP_API, "Application", ctx.deps.namespace)
    except Exception as exc:
        raise from_kube(exc, "applications") from exc

    async def visible(app: Mapping[str, Any]) -> bool:
        cfg = await ctx.settings.load()
        project = str((app.get("spec") or {}).get("project") or "default")
        obj = f"{project}/{(app.get('metadata') or {}).get('name', '')}"
        return _wanted(app, name, wanted_projects, reqs) and allowed(cfg, caller, "applications", "get", obj)

    def event(kind: str, app: Mapping[str, Any]) -> ServerSentEvent:
        return ServerSentEvent(data={"result": {"type": kind, "application": strip_object(app)}})

    for app in initial.items:
        if await visible(app):
            yield event("ADDED", app)
    if once:
        return
    rv: str | None = resourceVersion or initial.resource_version
    while not await request.is_disconnected():
        try:
            async for ev in ctx.deps.kube.watch(
                APP_API, "Application", ctx.deps.namespace, resource_version=rv, timeout_seconds=60
            ):
                if ev.type == "BOOKMARK":
                    rv = str((ev.object.get("metadata") or {}).get("resourceVersion") or rv)
                    continue
                rv = str((ev.object.get("metadata") or {}).get("resourceVersion") or rv)
                if ev.type in ("ADDED", "MODIFIED", "DELETED") and await visible(ev.object):
                    yield event(ev.type, ev.object)
            await asyncio.sleep(0.05)  # the watch ended (server timeout): reopen it
        except Exception as exc:
            if getattr(exc, "status", None) == 410:
                rv = None  # expired: resume from now
                continue
            log.warning("application stream watch failed: %s", type(exc).__name__)
            await asyncio.sleep(1.0)


# -- webhook ------------------------------------------------------------------------------------


def _github(payload: Mapping[str, Any]) -> tuple[list[str], str, str]:
    repo = payload.get("repository") or {}
    urls = [str(repo[k]) for k in ("html_url", "clone_url", "ssh_url", "git_url", "url") if repo.get(k)]
    ref = str(payload.get("ref") or "")
    return (
        urls,
        ref.removeprefix("refs/heads/").removeprefix("refs/tags/"),
        str(repo.get("default_branch") or ""),
    )


def _gitlab(payload: Mapping[str, Any]) -> tuple[list[str], str, str]:
    project = payload.get("project") or {}
    urls = [
        str(project[k])
        for k in ("web_url", "git_http_url", "git_ssh_url", "http_url", "ssh_url")
        if project.get(k)
    ]
    ref = str(payload.get("ref") or "")
    return (
        urls,
        ref.removeprefix("refs/heads/").removeprefix("refs/tags/"),
        str(project.get("default_branch") or ""),
    )


def _bitbucket(payload: Mapping[str, Any]) -> tuple[list[str], str, str]:
    repo = payload.get("repository") or {}
    urls: list[str] = []
    links = repo.get("links") or {}
    html = (links.get("html") or {}) if isinstance(links, Mapping) else {}
    if isinstance(html, Mapping) and html.get("href"):
        urls.append(str(html["href"]))
    clones = links.get("clone") if isinstance(links, Mapping) else None
    for c in clones or []:
        if isinstance(c, Mapping) and c.get("href"):
            urls.append(str(c["href"]))
    branch = ""
    changes = (
        ((payload.get("push") or {}).get("changes") or []) if isinstance(payload.get("push"), Mapping) else []
    )
    for change in changes:
        new = change.get("new") if isinstance(change, Mapping) else None
        if isinstance(new, Mapping) and new.get("name"):
            branch = str(new["name"])
            break
    for change in payload.get("changes") or []:  # Bitbucket Server
        if isinstance(change, Mapping) and change.get("refId"):
            branch = str(change["refId"]).removeprefix("refs/heads/")
            break
    main = repo.get("mainbranch") or {}
    return urls, branch, str(main.get("name") or "") if isinstance(main, Mapping) else ""


def _sig_ok(secret: str, body: bytes, header: str, prefix: str) -> bool:
    if not header.startswith(prefix):
        return False
    algo = hashlib.sha256 if prefix == "sha256=" else hashlib.sha1
    expected = hmac.new(secret.encode("utf-8"), body, algo).hexdigest()
    return hmac.compare_digest(expected, header[len(prefix) :])


def _revision_matches(target: str, branch: str, default_branch: str) -> bool:
    target = target.removeprefix("refs/heads/")
    if target in ("", "HEAD"):
        return not default_branch or branch == default_branch
    return target == branch


@webhook.post("/api/webhook", summary="Git push webhooks (GitHub, GitLab, Bitbucket)")
async def receive_webhook(request: Request) -> dict[str, Any]:
    ctx = ctx_of(request)
    cfg = await ctx.settings.load()
    body = await request.body()
    if len(body) > MAX_WEBHOOK_BYTES:
        raise bad_request("webhook payload too large")
    headers = request.headers
    if headers.get("x-github-event"):
        provider, secret = "github", cfg.secret.get("webhook.github.secret", "")
        if secret:
            ok = _sig_ok(secret, body, headers.get("x-hub-signature-256", ""), "sha256=") or _sig_ok(
                secret, body, headers.get("x-hub-signature", ""), "sha1="
            )
            if not ok:
                raise unauthenticated("webhook signature verification failed")
        event = headers["x-github-event"]
    elif headers.get("x-gitlab-event"):
        provider, secret = "gitlab", cfg.secret.get("webhook.gitlab.secret", "")
        if secret and not hmac.compare_digest(secret, headers.get("x-gitlab-token", "")):
            raise unauthenticated("webhook token verification failed")
        event = headers["x-gitlab-event"]
    elif headers.get("x-event-key"):
        if headers.get("x-hook-uuid"):
            provider, secret = "bitbucket", cfg.secret.get("webhook.bitbucket.uuid", "")
            if secret and not hmac.compare_digest(secret, headers.get("x-hook-uuid", "")):
                raise unauthenticated("webhook UUID verification failed")
        else:
            provider, secret = "bitbucketserver", cfg.secret.get("webhook.bitbucketserver.secret", "")
            if secret and not _sig_ok(secret, body, headers.get("x-hub-signature", ""), "sha256="):
                raise unauthenticated("webhook signature verification failed")
        event = headers["x-event-key"]
    else:
        raise bad_request("unknown webhook event")
    try:
        payload = json.loads(body or b"{}")
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise bad_request("webhook payload is not JSON") from exc
    if not isinstance(payload, Mapping):
        raise bad_request("webhook payload is not a JSON object")
    if event in ("ping",):
        return {"refreshed": []}
    parse = {"github": _github, "gitlab": _gitlab}.get(provider, _bitbucket)
    urls, branch, default_branch = parse(payload)
    wanted = {normalize_repo_url(u) for u in urls if u}
    if not wanted:
        return {"refreshed": []}
    try:
        apps = await ctx.deps.kube.list(APP_API, "Application", ctx.deps.namespace)
    except Exception as exc:
        raise from_kube(exc, "applications") from exc
    refreshed = []
    for app in apps.items:
        spec = app.get("spec") or {}
        sources = [s for s in spec.get("sources") or [] if isinstance(s, Mapping)]
        if isinstance(spec.get("source"), Mapping):
            sources.append(spec["source"])
        if any(
            normalize_repo_url(str(s.get("repoURL") or "")) in wanted
            and _revision_matches(str(s.get("targetRevision") or ""), branch, default_branch)
            for s in sources
        ):
            name = str((app.get("metadata") or {}).get("name") or "")
            try:
                await ctx.deps.kube.patch(
                    APP_API,
                    "Application",
                    name,
                    {"metadata": {"annotations": {REFRESH_ANNOTATION: "normal"}}},
                    ctx.deps.namespace,
                )
                refreshed.append(name)
            except Exception as exc:
                log.warning("webhook refresh of %s failed: %s", name, type(exc).__name__)
    audit(
        request,
        None,
        actor=f"webhook:{provider}",
        action="webhook.refresh",
        outcome="success",
        kind="Application",
        summary={"event": event, "branch": branch, "refreshed": refreshed},
    )
    return {"refreshed": sorted(refreshed)}


# -- health -------------------------------------------------------------------------------------


@health.get("/healthz", summary="Liveness")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@health.get("/readyz", summary="Readiness: settings readable and the application cache filled")
async def readyz(request: Request) -> dict[str, str]:
    ctx = ctx_of(request)
    try:
        await ctx.settings.load()
    except Exception as exc:
        raise ApiError(503, "not ready", GRPC_UNAVAILABLE) from exc
    if ctx.cache is not None and not ctx.cache.synced:
        raise ApiError(503, "not ready: the application cache is filling", GRPC_UNAVAILABLE)
    return {"status": "ok"}
