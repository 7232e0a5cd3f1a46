"""``/api/v1/applications``: Argo CD's ApplicationService routes over the Application CRs.

The Application object is the interface (argocd-semantics §1.12): a sync writes ``.operation``, a
refresh sets the ``argocd.argoproj.io/refresh`` annotation, terminate sets
``status.operationState.phase: Terminating``; the controller does the rest and reports in ``.status``.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping
from datetime import UTC
from typing import Annotated, Any, Protocol

from fastapi import APIRouter, Body, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from argosy.api.appcache import CachedApp, GzipSegments, Piece
from argosy.api.appcache import entry as cache_entry
from argosy.api.common import (
    APP_API,
    app_event,
    match_selector,
    page,
    parse_selector,
    select_fields,
    strip_object,
)
from argosy.api.context import ApiContext, Caller, allowed, audit, authenticate, ctx_of, enforce, masked
from argosy.api.errors import (
    GRPC_PERMISSION_DENIED,
    ApiError,
    bad_request,
    from_kube,
    not_found,
    permission_denied,
    precondition,
)
from argosy.core.project import check_application, sync_window_verdict
from argosy.model.application import Application, AppProject, ModelError, format_time
from argosy.model.repository import CommitMetadata
from argosy.ports.kube import is_not_found

__all__ = ["ManifestSource", "router"]

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api/v1/applications", tags=["ApplicationService"])
CallerDep = Annotated[Caller, Depends(authenticate)]

REFRESH_ANNOTATION = "argocd.argoproj.io/refresh"
RESOURCES_FINALIZER = "resources-finalizer.argocd.argoproj.io"
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
RESTARTABLE = {"Deployment", "StatefulSet", "DaemonSet"}


class ManifestSource(Protocol):
    """Optional: renders an Application's desired manifests (wired to the repo service by bootstrap)."""

    async def manifests(self, app: Mapping[str, Any], revision: str | None) -> list[dict[str, Any]]: ...

    async def revision_metadata(self, app: Mapping[str, Any], revision: str) -> CommitMetadata | None:
        """Author, date and message of a commit of the app's (first) Git source, when known."""
        ...


class SyncStrategyBody(BaseModel):
    model_config = ConfigDict(extra="allow")
    apply: dict[str, Any] | None = None
    hook: dict[str, Any] | None = None


class SyncResource(BaseModel):
    model_config = ConfigDict(extra="ignore")
    group: str = ""
    kind: str
    name: str
    namespace: str = ""


class SyncOptionsBody(BaseModel):
    items: list[str] = Field(default_factory=list)


class SyncRequest(BaseModel):
    """Argo CD's ``ApplicationSyncRequest`` (the fields Argosy honours)."""

    model_config = ConfigDict(extra="allow")
    name: str | None = None
    revision: str = ""
    revisions: list[str] | None = None
    dryRun: bool = False
    prune: bool = False
    strategy: SyncStrategyBody | None = None
    resources: list[SyncResource] | None = None
    syncOptions: SyncOptionsBody | None = None
    infos: list[dict[str, str]] | None = None
    retryStrategy: dict[str, Any] | None = None
    manifests: list[str] | None = None


class RollbackRequest(BaseModel):
    model_config = ConfigDict(extra="allow")
    name: str | None = None
    id: int = 0
    dryRun: bool = False
    prune: bool = False


class ResourceActionBody(BaseModel):
    model_config = ConfigDict(extra="allow")
    action: str


# -- helpers -------------------------------------------------------------------------------------


def project_of(app: Mapping[str, Any]) -> str:
    return str((app.get("spec") or {}).get("project") or "default")


def name_of(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("name") or "")


def rbac_object(app: Mapping[str, Any]) -> str:
    return f"{project_of(app)}/{name_of(app)}"


async def load_app(request: Request, caller: Caller, name: str, action: str) -> dict[str, Any]:
    """Get an Application and enforce ``applications <action>`` on it. A missing app answers 403 to a
    caller who could not see an app of that name in every project (nothing leaks), 404 otherwise."""
    ctx = ctx_of(request)
    try:
        app = await ctx.deps.kube.get(APP_API, "Application", name, ctx.deps.namespace)
    except Exception as exc:
        if is_not_found(exc):
            settings = await ctx.settings.load()
            if allowed(settings, caller, "applications", "get", f"*/{name}"):
                raise not_found(f"application {name!r} not found") from exc
            raise permission_denied() from exc
        raise from_kube(exc, f"application {name!r}") from exc
    await enforce(
        request, caller, "applications", action, rbac_object(app), audit_action=f"application.{action}"
    )
    return app


async def patch_app(ctx: ApiContext, name: str, patch: Mapping[str, Any]) -> dict[str, Any]:
    try:
        updated = await ctx.deps.kube.patch(APP_API, "Application", name, patch, ctx.deps.namespace)
    except Exception as exc:
        raise from_kube(exc, f"application {name!r}") from exc
    remember(ctx, updated)
    return updated


def remember(ctx: ApiContext, app: Mapping[str, Any]) -> None:
    """Write-through to the list cache, so a caller reads its own writes."""
    if ctx.cache is not None:
        ctx.cache.put(app)


def present(app: Mapping[str, Any]) -> dict[str, Any]:
    return strip_object(app)


# -- list / get ---------------------------------------------------------------------------------


@router.get("", summary="List applications")
async def list_applications(
    request: Request,
    *,
    caller: CallerDep,
    name: str | None = None,
    projects: Annotated[list[str] | None, Query()] = None,
    project: Annotated[list[str] | None, Query()] = None,
    selector: str | None = None,
    repo: str | None = None,
    limit: Annotated[int | None, Query(ge=0, le=100000)] = None,
    continue_: Annotated[str | None, Query(alias="continue")] = None,
    fields: str | None = None,
) -> Response:
    """Argo CD's ApplicationList; ``limit``/``continue`` and ``fields`` as described in docs/api.md."""
    ctx = ctx_of(request)
    reqs = parse_selector(selector) if selector else []
    settings = await ctx.settings.load()
    cache = ctx.cache
    if cache is not None and cache.synced:
        entries = cache.items()
        resource_version = cache.resource_version
    else:
        try:
            result = await ctx.deps.kube.list(APP_API, "Application", ctx.deps.namespace, limit=500)
        except Exception as exc:
            raise from_kube(exc, "applications") from exc
        entries = sorted(map(cache_entry, result.items), key=lambda e: e.name)
        resource_version = result.resource_version
    wanted_projects = set(projects or []) | set(project or [])
    items: list[CachedApp] = []
    decided: dict[str, bool] = {}  # per project, when names cannot matter (ServerSettings docs)
    for e in entries:
        if name and e.name != name:
            continue
        if wanted_projects and e.project not in wanted_projects:
            continue
        if reqs and not match_selector(e.labels, reqs):
            continue
        if repo and not any(
            str(s.get("repoURL", "")).rstrip("/") == repo.rstrip("/") for s in _sources(e.obj)
        ):
            continue
        if settings.per_project_app_rbac:
            if e.project not in decided:
                decided[e.project] = allowed(settings, caller, "applications", "get", f"{e.project}/{e.name}")
            if not decided[e.project]:
                continue
        elif not allowed(settings, caller, "applications", "get", f"{e.project}/{e.name}"):
            continue
        items.append(e)
    chunk, nxt = page(items, limit, continue_)
    metadata: dict[str, Any] = {"resourceVersion": resource_version, **({"continue": nxt} if nxt else {})}
    gzip = cache.gzip if cache is not None and _accepts_gzip(request) else None
    if fields:
        return _fields_answer(metadata, chunk, fields, gzip)
    head = json.dumps({"metadata": metadata}, separators=(",", ":")).encode()[:-1] + b',"items":['
    return _list_answer(head, [(e.name, e.resource_version, e.raw) for e in chunk], b"]}", gzip, "")


def _list_answer(
    head: bytes, pieces: list[Piece], tail: bytes, gzip: GzipSegments | None, variant: str
) -> Response:
    if gzip is not None and sum(len(raw) for _, _, raw in pieces) >= 1024:
        # Compressed from cached per-group segments (appcache.GzipSegments); the GZip middleware
        # leaves an answer that already has a Content-Encoding alone.
        body = gzip.body(head, pieces, tail, variant=variant)
        headers = {"Content-Encoding": "gzip", "Vary": "Accept-Encoding"}
        return Response(body, media_type="application/json", headers=headers)
    body = b"".join((head, b",".join(raw for _, _, raw in pieces), tail))
    return Response(body, media_type="application/json")


def _fields_answer(
    metadata: dict[str, Any], chunk: list[CachedApp], fields: str, gzip: GzipSegments | None
) -> Response:
    """``select_fields`` over the list, item by item from each entry's cached projection: the
    top-level paths (``metadata.resourceVersion``) select from the list's metadata, the ``items.``
    paths from every item; an item with none of them is left out, as ``select_fields`` does."""
    top_paths: list[str] = []
    item_paths: list[str] = []
    for raw in fields.split(","):
        path = [p for p in raw.strip().split(".") if p]
        if path and path[0] == "items":
            rest = ".".join(path[1:])
            if rest not in item_paths:
                item_paths.append(rest)
        elif path:
            top_paths.append(".".join(path))
    top = select_fields({"metadata": metadata}, ",".join(top_paths)) if top_paths else {}
    if not item_paths:
        return Response(json.dumps(top, separators=(",", ":")).encode(), media_type="application/json")
    pieces: list[Piece] = []
    for e in chunk:
        view = e.view(item_paths)
        if view is not None:
            pieces.append((e.name, e.resource_version, view))
    head = json.dumps(top, separators=(",", ":")).encode()[:-1] + (b"," if top else b"") + b'"items":['
    return _list_answer(head, pieces, b"]}", gzip, "fields:" + ",".join(item_paths))


def _accepts_gzip(request: Request) -> bool:
    """The GZip middleware's test (``gzip`` named in Accept-Encoding), so both paths agree."""
    return "gzip" in request.headers.get("accept-encoding", "").lower()


def _sources(app: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    spec = app.get("spec") or {}
    out = [s for s in spec.get("sources") or [] if isinstance(s, Mapping)]
    if isinstance(spec.get("source"), Mapping):
        out.append(spec["source"])
    return out


@router.get("/{name}", summary="Get an application (refresh=normal|hard requests a refresh)")
async def get_application(
    request: Request,
    name: str,
    caller: CallerDep,
    refresh: Annotated[str | None, Query(pattern="^(normal|hard|true|false)?$")] = None,
) -> dict[str, Any]:
    ctx = ctx_of(request)
    app = await load_app(request, caller, name, "get")
    if refresh and refresh != "false":
        mode = "hard" if refresh == "hard" else "normal"
        app = await patch_app(ctx, name, {"metadata": {"annotations": {REFRESH_ANNOTATION: mode}}})
    return present(app)


# -- create / update / delete -------------------------------------------------------------------


def _validate_app(body: Mapping[str, Any], ns: str) -> dict[str, Any]:
    obj = dict(body)
    obj.setdefault("apiVersion", APP_API)
    obj.setdefault("kind", "Application")
    meta = dict(obj.get("metadata") or {})
    if not meta.get("name"):
        raise bad_request("application name is required")
    if meta.get("namespace") not in (None, "", ns):
        raise bad_request(f"applications must be in namespace {ns!r}")
    meta["namespace"] = ns
    for key in ("resourceVersion", "uid", "creationTimestamp", "managedFields", "generation"):
        meta.pop(key, None)
    obj["metadata"] = meta
    obj.pop("status", None)
    obj.pop("operation", None)
    try:
        Application.from_dict(obj)
    except ModelError as exc:
        raise bad_request(f"invalid application: {exc}"[:500]) from exc
    spec = obj.get("spec")
    if not isinstance(spec, Mapping) or not isinstance(spec.get("destination"), Mapping):
        raise bad_request("spec.destination is required")
    return obj


@router.post("", summary="Create an application")
async def create_application(
    request: Request,
    caller: CallerDep,
    body: Annotated[dict[str, Any], Body()],
    upsert: bool = False,
) -> dict[str, Any]:
    ctx = ctx_of(request)
    obj = _validate_app(body, ctx.deps.namespace)
    await enforce(
        request, caller, "applications", "create", rbac_object(obj), audit_action="application.create"
    )
    await _check_project(ctx, obj)
    try:
        created = await ctx.deps.kube.create(obj)
        remember(ctx, created)
        action = "create"
    except Exception as exc:
        if not (upsert and getattr(exc, "status", None) == 409):
            if getattr(exc, "status", None) == 409:
                raise precondition(
                    "existing application spec is different, use upsert flag to force update"
                ) from exc
            raise from_kube(exc, f"application {name_of(obj)!r}") from exc
        existing = await load_app(request, caller, name_of(obj), "update")
        created = await patch_app(ctx, name_of(obj), {"spec": obj["spec"], "metadata": _meta_patch(obj)})
        _ = existing
        action = "update"
    audit(
        request,
        caller,
        action=f"application.{action}",
        outcome="success",
        kind="Application",
        name=name_of(obj),
        project=project_of(obj),
        summary={"spec": obj.get("spec")},
    )
    await app_event(
        ctx,
        created,
        caller,
        "ResourceCreated" if action == "create" else "ResourceUpdated",
        f"{action}d application",
    )
    return present(created)


def _meta_patch(obj: Mapping[str, Any]) -> dict[str, Any]:
    meta = obj.get("metadata") or {}
    return {k: meta[k] for k in ("labels", "annotations", "finalizers") if k in meta}


async def _get_project(ctx: ApiContext, project: str) -> AppProject:
    try:
        raw = await ctx.deps.kube.get(APP_API, "AppProject", project, ctx.deps.namespace)
    except Exception as exc:
        if is_not_found(exc):
            raise bad_request(f"application references project {project} which does not exist") from exc
        raise from_kube(exc, f"project {project!r}") from exc
    try:
        return AppProject.from_dict(raw)
    except ModelError as exc:
        raise bad_request(f"project {project} is invalid: {exc}"[:500]) from exc


async def _check_project(ctx: ApiContext, obj: Mapping[str, Any]) -> None:
    """Argo CD's spec validation against the project: permitted sources and destination."""
    project = await _get_project(ctx, project_of(obj))
    violations = check_application(project, Application.from_dict(obj), control_namespace=ctx.deps.namespace)
    if violations:
        details = "; ".join(f"{v.condition}: {v.message}" for v in violations)
        raise bad_request(f"application spec for {name_of(obj)} is invalid: {details}"[:1000])


@router.put("/{name}", summary="Update an application")
async def update_application(
    request: Request, name: str, caller: CallerDep, body: Annotated[dict[str, Any], Body()]
) -> dict[str, Any]:
    ctx = ctx_of(request)
    obj = _validate_app(body, ctx.deps.namespace)
    if name_of(obj) != name:
        raise bad_request("the name in the path and in the body differ")
    current = await load_app(request, caller, name, "update")
    if project_of(obj) != project_of(current):
        # moving an app to another project needs update rights in both
        await enforce(
            request, caller, "applications", "update", rbac_object(obj), audit_action="application.update"
        )
    await _check_project(ctx, obj)
    replacement = dict(current)
    replacement["spec"] = obj["spec"]
    meta = dict(current.get("metadata") or {})
    meta.update(_meta_patch(obj))
    replacement["metadata"] = meta
    try:
        updated = await ctx.deps.kube.replace(replacement)
    except Exception as exc:
        raise from_kube(exc, f"application {name!r}") from exc
    remember(ctx, updated)
    audit(
        request,
        caller,
        action="application.update",
        outcome="success",
        kind="Application",
        name=name,
        project=project_of(obj),
        summary={"spec": obj["spec"]},
    )
    await app_event(ctx, updated, caller, "ResourceUpdated", "updated application spec")
    return present(updated)


@router.delete("/{name}", summary="Delete an application (cascade=true deletes its resources)")
async def delete_application(
    request: Request,
    name: str,
    caller: CallerDep,
    cascade: bool = True,
    propagationPolicy: Annotated[str | None, Query(pattern="^(foreground|background)?$")] = None,
) -> dict[str, Any]:
    ctx = ctx_of(request)
    app = await load_app(request, caller, name, "delete")
    finalizers = list((app.get("metadata") or {}).get("finalizers") or [])
    others = [f for f in finalizers if not f.startswith(RESOURCES_FINALIZER)]
    if cascade:
        wanted = (
            RESOURCES_FINALIZER
            if propagationPolicy in (None, "", "foreground")
            else f"{RESOURCES_FINALIZER}/background"
        )
        new = [*others, wanted]
    else:
        new = others
    if new != finalizers:
        await patch_app(ctx, name, {"metadata": {"finalizers": new}})
    try:
        await ctx.deps.kube.delete(APP_API, "Application", name, ctx.deps.namespace)
    except Exception as exc:
        raise from_kube(exc, f"application {name!r}") from exc
    audit(
        request,
        caller,
        action="application.delete",
        outcome="success",
        kind="Application",
        name=name,
        project=project_of(app),
        summary={"cascade": cascade, "propagationPolicy": propagationPolicy or ""},
    )
    await app_event(
        ctx, app, caller, "ResourceDeleted", f"deleted application (cascade={str(cascade).lower()})"
    )
    return {}


# -- operations ---------------------------------------------------------------------------------


def _automated(app: Mapping[str, Any]) -> bool:
    policy = (app.get("spec") or {}).get("syncPolicy") or {}
    automated = policy.get("automated")
    if not isinstance(automated, Mapping):
        return False
    return automated.get("enabled", True) is not False


def _target_revision(app: Mapping[str, Any]) -> str:
    spec = app.get("spec") or {}
    src = spec.get("source") or {}
    return str(src.get("targetRevision") or "HEAD") if isinstance(src, Mapping) else "HEAD"


@router.post("/{name}/sync", summary="Sync an application (writes .operation.sync)")
async def sync_application(
    request: Request, name: str, caller: CallerDep, body: Annotated[SyncRequest | None, Body()] = None
) -> dict[str, Any]:
    ctx = ctx_of(request)
    req = body or SyncRequest()
    app = await load_app(request, caller, name, "sync")
    if req.manifests:
        await enforce(
            request, caller, "applications", "override", rbac_object(app), audit_action="application.sync"
        )
    if app.get("operation"):
        raise precondition("another operation is already in progress")
    try:
        verdict = sync_window_verdict(
            await _get_project(ctx, project_of(app)), Application.from_dict(app), ctx.now(), manual=True
        )
    except ModelError as exc:
        raise bad_request(f"application {name} is invalid: {exc}"[:500]) from exc
    if not verdict.allowed:
        raise ApiError(403, "cannot sync: blocked by sync window", GRPC_PERMISSION_DENIED)
    if req.revision and _automated(app) and req.revision != _target_revision(app):
        raise precondition(
            f"Cannot sync to {req.revision}: auto-sync currently set to {_target_revision(app)}"
        )
    sync: dict[str, Any] = {"revision": req.revision, "prune": req.prune, "dryRun": req.dryRun}
    if req.revisions:
        sync["revisions"] = req.revisions
    if req.strategy is not None:
        strategy = req.strategy.model_dump(exclude_none=True)
        sync["syncStrategy"] = {k: v for k, v in strategy.items() if k in ("apply", "hook")}
    if req.resources:
        sync["resources"] = [r.model_dump() for r in req.resources]
    if req.syncOptions and req.syncOptions.items:
        sync["syncOptions"] = list(req.syncOptions.items)
    if req.manifests:
        sync["manifests"] = list(req.manifests)
    operation: dict[str, Any] = {"sync": sync, "initiatedBy": {"username": caller.subject}}
    if req.infos:
        operation["info"] = req.infos
    if req.retryStrategy:
        operation["retry"] = req.retryStrategy
    updated = await patch_app(ctx, name, {"operation": operation})
    audit(
        request,
        caller,
        action="application.sync",
        outcome="success",
        kind="Application",
        name=name,
        project=project_of(app),
        summary={"operation": operation},
    )
    target = req.revision or _target_revision(app)
    await app_event(ctx, updated, caller, "OperationStarted", f"initiated sync to {target}")
    return present(updated)


@router.post("/{name}/rollback", summary="Roll back to a history id (writes .operation.sync)")
async def rollback_application(
    request: Request, name: str, caller: CallerDep, body: Annotated[RollbackRequest | None, Body()] = None
) -> dict[str, Any]:
    ctx = ctx_of(request)
    req = body or RollbackRequest()
    settings = await ctx.settings.load()
    app = await load_app(request, caller, name, "rollback" if settings.rollback_enforced else "sync")
    if app.get("operation"):
        raise precondition("another operation is already in progress")
    # Unlike Argo CD, a rollback is allowed while automated sync is on: the controller sets a
    # rollback hold that pauses auto-sync until Git has a new revision (docs/decisions.md).
    history = [h for h in (app.get("status") or {}).get("history") or [] if isinstance(h, Mapping)]
    if not history:
        raise precondition(f"application {name} has no deployment history")
    if req.id == 0:
        if len(history) < 2:
            raise precondition("no previous deployment to roll back to")
        entry = history[-2]
    else:
        match = [h for h in history if h.get("id") == req.id]
        if not match:
            raise not_found(f"application {name} does not have deployment id {req.id} in history")
        entry = match[0]
    sync: dict[str, Any] = {"revision": entry.get("revision", ""), "prune": req.prune, "dryRun": req.dryRun}
    if entry.get("source"):
        sync["source"] = entry["source"]
    if entry.get("revisions"):
        sync["revisions"] = entry["revisions"]
    if entry.get("sources"):
        sync["sources"] = entry["sources"]
    operation = {
        "sync": sync,
        "initiatedBy": {"username": caller.subject},
        # The controller recognises a rollback by this entry and sets the rollback hold.
        "info": [{"name": "rollback", "value": str(entry.get("id"))}],
    }
    updated = await patch_app(ctx, name, {"operation": operation})
    audit(
        request,
        caller,
        action="application.rollback",
        outcome="success",
        kind="Application",
        name=name,
        project=project_of(app),
        summary={"id": entry.get("id"), "revision": sync["revision"]},
    )
    await app_event(ctx, updated, caller, "OperationStarted", f"initiated rollback to {entry.get('id')}")
    return present(updated)


@router.delete("/{name}/operation", summary="Terminate the running operation")
async def terminate_operation(request: Request, name: str, caller: CallerDep) -> dict[str, Any]:
    ctx = ctx_of(request)
    app = await load_app(request, caller, name, "sync")
    running = ((app.get("status") or {}).get("operationState") or {}).get("phase") == "Running"
    if not app.get("operation") and not running:  # running without .operation: an automated sync
        raise precondition("Unable to terminate operation. No operation is in progress")
    patch = {"status": {"operationState": {"phase": "Terminating"}}}
    await patch_app(ctx, name, patch)
    audit(
        request,
        caller,
        action="application.terminate-operation",
        outcome="success",
        kind="Application",
        name=name,
        project=project_of(app),
    )
    await app_event(ctx, app, caller, "OperationTerminating", "terminated running operation")
    return {}


# -- read-only views ----------------------------------------------------------------------------


def _node(res: Mapping[str, Any]) -> dict[str, Any]:
    node = {
        "group": res.get("group", ""),
        "version": res.get("version", ""),
        "kind": res.get("kind", ""),
        "namespace": res.get("namespace", ""),
        "name": res.get("name", ""),
    }
    if res.get("health"):
        node["health"] = res["health"]
    return node


@router.get("/{name}/resource-tree", summary="The application's resources (from status.resources)")
async def resource_tree(request: Request, name: str, caller: CallerDep) -> dict[str, Any]:
    app = await load_app(request, caller, name, "get")
    resources = [r for r in (app.get("status") or {}).get("resources") or [] if isinstance(r, Mapping)]
    return {"nodes": [_node(r) for r in resources], "orphanedNodes": []}


def _api_version(res: Mapping[str, Any]) -> str:
    group, version = str(res.get("group") or ""), str(res.get("version") or "v1")
    return f"{group}/{version}" if group else version


@router.get("/{name}/managed-resources", summary="Managed resources with live state (Secrets masked)")
async def managed_resources(request: Request, name: str, caller: CallerDep) -> dict[str, Any]:
    ctx = ctx_of(request)
    app = await load_app(request, caller, name, "get")
    resources = [r for r in (app.get("status") or {}).get("resources") or [] if isinstance(r, Mapping)]
    targets: dict[tuple[str, str, str, str], dict[str, Any]] = {}
    if ctx.deps.manifests is not None:
        try:
            for m in await ctx.deps.manifests.manifests(app, None):
                key = (
                    str(m.get("apiVersion", "")).rpartition("/")[0]
                    if "/" in str(m.get("apiVersion", ""))
                    else "",
                    str(m.get("kind", "")),
                    str((m.get("metadata") or {}).get("namespace") or ""),
                    str((m.get("metadata") or {}).get("name") or ""),
                )
                targets[key] = m
        except Exception:  # manifests are a best-effort addition here
            targets = {}

    async def one(res: Mapping[str, Any]) -> dict[str, Any]:
        key = (
            str(res.get("group") or ""),
            str(res.get("kind") or ""),
            str(res.get("namespace") or ""),
            str(res.get("name") or ""),
        )
        live: dict[str, Any] | None
        try:
            live = await ctx.deps.kube.get(_api_version(res), key[1], key[3], key[2] or None)
        except Exception:
            live = None
        target = targets.get(key)
        return {
            "group": key[0],
            "kind": key[1],
            "namespace": key[2],
            "name": key[3],
            "liveState": json.dumps(masked(strip_object(live))) if live else "null",
            "targetState": json.dumps(masked(target)) if target else "null",
            "modified": res.get("status") == "OutOfSync",
            "hook": bool(res.get("hook")),
            "requiresPruning": bool(res.get("requiresPruning")),
            "syncStatus": res.get("status", ""),
        }

    items = await asyncio.gather(*(one(r) for r in resources))
    return {"items": list(items)}


@router.get("/{name}/manifests", summary="The desired manifests (Secrets masked)")
async def manifests(
    request: Request, name: str, caller: CallerDep, revision: str | None = None
) -> dict[str, Any]:
    ctx = ctx_of(request)
    app = await load_app(request, caller, name, "get")
    if ctx.deps.manifests is None:
        raise precondition("manifest generation is not available on this server")
    try:
        rendered = await ctx.deps.manifests.manifests(app, revision)
    except Exception as exc:
        raise precondition(f"manifest generation failed: {type(exc).__name__}") from exc
    return {"manifests": [json.dumps(masked(m)) for m in rendered], "revision": revision or ""}


@router.get("/{name}/revisions/{revision}/metadata", summary="Revision metadata (from the history)")
async def revision_metadata(request: Request, name: str, revision: str, caller: CallerDep) -> dict[str, Any]:
    app = await load_app(request, caller, name, "get")
    source = ctx_of(request).deps.manifests
    commit = None
    if source is not None:
        try:
            commit = await source.revision_metadata(app, revision)
        except Exception as exc:  # metadata is informative: fall back to the history below
            log.debug("revision metadata of %s: %s", revision, exc)
    if commit is not None:
        date = commit.committed_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return {"date": date, "message": commit.message, "author": commit.author, "tags": []}
    for h in (app.get("status") or {}).get("history") or []:
        if isinstance(h, Mapping) and h.get("revision") == revision:
            return {"date": h.get("deployedAt", ""), "message": "", "author": "", "tags": []}
    raise not_found(f"revision {revision} not found in the history of {name}")


@router.get("/{name}/events", summary="Kubernetes Events of the application")
async def events(request: Request, name: str, caller: CallerDep) -> dict[str, Any]:
    ctx = ctx_of(request)
    await load_app(request, caller, name, "get")
    try:
        result = await ctx.deps.kube.list(
            "v1",
            "Event",
            ctx.deps.namespace,
            field_selector=f"involvedObject.name={name},involvedObject.kind=Application",
        )
    except Exception as exc:
        raise from_kube(exc, "events") from exc
    items = [strip_object(e) for e in result.items]
    return {"metadata": {"resourceVersion": result.resource_version}, "items": items}


@router.get("/{name}/resource/actions", summary="Available resource actions")
async def list_actions(
    request: Request,
    *,
    name: str,
    caller: CallerDep,
    kind: str = "",
    group: str = "",
    resourceName: str = "",
    namespace: str = "",
    version: str = "",
) -> dict[str, Any]:
    await load_app(request, caller, name, "get")
    if kind in RESTARTABLE:
        return {"actions": [{"name": "restart", "disabled": False}]}
    return {"actions": []}


@router.post("/{name}/resource/actions", summary="Run a resource action (restart for workloads)")
async def run_action(
    request: Request,
    *,
    name: str,
    caller: CallerDep,
    body: Annotated[str | ResourceActionBody, Body()],
    kind: str = "",
    group: str = "",
    resourceName: str = "",
    namespace: str = "",
    version: str = "",
) -> dict[str, Any]:
    ctx = ctx_of(request)
    action = body if isinstance(body, str) else body.action
    app = await load_app(request, caller, name, "get")
    await enforce(
        request,
        caller,
        "applications",
        f"action/{group}/{kind}/{action}",
        rbac_object(app),
        audit_action="application.action",
    )
    managed = [r for r in (app.get("status") or {}).get("resources") or [] if isinstance(r, Mapping)]
    match = [
        r
        for r in managed
        if r.get("kind") == kind
        and r.get("name") == resourceName
        and str(r.get("group") or "") == group
        and (not namespace or r.get("namespace") == namespace)
    ]
    if not match:
        raise not_found(f"{group}/{kind} {resourceName} is not managed by application {name}")
    if action != "restart" or kind not in RESTARTABLE:
        raise bad_request(f"action {action!r} is not available for {kind}")
    res = match[0]
    api_version = f"{group}/{version or res.get('version') or 'v1'}" if group else (version or "v1")
    now = format_time(ctx.now())
    patch = {"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: now}}}}}
    try:
        await ctx.deps.kube.patch(
            api_version, kind, resourceName, patch, str(res.get("namespace") or "") or None
        )
    except Exception as exc:
        raise from_kube(exc, f"{kind} {resourceName}") from exc
    audit(
        request,
        caller,
        action="application.action",
        outcome="success",
        kind="Application",
        name=name,
        project=project_of(app),
        summary={"action": action, "resource": f"{group}/{kind}/{res.get('namespace', '')}/{resourceName}"},
    )
    await app_event(
        ctx,
        app,
        caller,
        "ResourceActionRan",
        f"ran action {action} on resources {group}/{kind}/{resourceName}",
    )
    return {}
