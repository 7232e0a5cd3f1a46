"""``/api/v1/projects``: AppProject CRUD (RBAC resource ``projects``, object = project name)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request
from pydantic import BaseModel, ConfigDict

from argosy.api.common import APP_API, strip_object
from argosy.api.context import Caller, allowed, audit, authenticate, ctx_of, enforce
from argosy.api.errors import bad_request, from_kube, permission_denied, precondition
from argosy.model.application import AppProject, ModelError
from argosy.ports.kube import is_not_found

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/projects", tags=["ProjectService"])
CallerDep = Annotated[Caller, Depends(authenticate)]


class ProjectCreateRequest(BaseModel):
    model_config = ConfigDict(extra="allow")
    project: dict[str, Any]
    upsert: bool = False


class ProjectUpdateRequest(BaseModel):
    model_config = ConfigDict(extra="allow")
    project: dict[str, Any]


def _present(proj: Mapping[str, Any]) -> dict[str, Any]:
    return strip_object(proj)


def _validate(obj: Mapping[str, Any], ns: str) -> dict[str, Any]:
    proj = dict(obj)
    proj.setdefault("apiVersion", APP_API)
    proj.setdefault("kind", "AppProject")
    meta = dict(proj.get("metadata") or {})
    if not meta.get("name") or not isinstance(meta["name"], str):
        raise bad_request("project name is required")
    meta["namespace"] = ns
    for key in ("uid", "creationTimestamp", "managedFields", "generation"):
        meta.pop(key, None)
    proj["metadata"] = meta
    proj.setdefault("spec", {})
    try:
        AppProject.from_dict(proj)
    except ModelError as exc:
        raise bad_request(f"invalid project: {exc}"[:500]) from exc
    return proj


@router.get("", summary="List projects")
async def list_projects(request: Request, caller: CallerDep) -> dict[str, Any]:
    ctx = ctx_of(request)
    settings = await ctx.settings.load()
    try:
        result = await ctx.deps.kube.list(APP_API, "AppProject", ctx.deps.namespace)
    except Exception as exc:
        raise from_kube(exc, "projects") from exc
    items = [
        _present(p)
        for p in sorted(result.items, key=lambda p: str((p.get("metadata") or {}).get("name")))
        if allowed(settings, caller, "projects", "get", str((p.get("metadata") or {}).get("name") or ""))
    ]
    return {"metadata": {"resourceVersion": result.resource_version}, "items": items}


async def _get(request: Request, caller: Caller, name: str, action: str) -> dict[str, Any]:
    ctx = ctx_of(request)
    await enforce(request, caller, "projects", action, name, audit_action=f"project.{action}")
    try:
        return await ctx.deps.kube.get(APP_API, "AppProject", name, ctx.deps.namespace)
    except Exception as exc:
        raise from_kube(exc, f"project {name!r}") from exc


@router.get("/{name}", summary="Get a project")
async def get_project(request: Request, name: str, caller: CallerDep) -> dict[str, Any]:
    return _present(await _get(request, caller, name, "get"))


@router.post("", summary="Create a project")
async def create_project(
    request: Request, caller: CallerDep, body: Annotated[ProjectCreateRequest, Body()]
) -> dict[str, Any]:
    ctx = ctx_of(request)
    proj = _validate(body.project, ctx.deps.namespace)
    name = proj["metadata"]["name"]
    await enforce(request, caller, "projects", "create", name, audit_action="project.create")
    try:
        created = await ctx.deps.kube.create(proj)
    except Exception as exc:
        if getattr(exc, "status", None) == 409 and body.upsert:
            await enforce(request, caller, "projects", "update", name, audit_action="project.update")
            current = await ctx.deps.kube.get(APP_API, "AppProject", name, ctx.deps.namespace)
            proj["metadata"]["resourceVersion"] = (current.get("metadata") or {}).get("resourceVersion")
            created = await ctx.deps.kube.replace(proj)
        elif getattr(exc, "status", None) == 409:
            raise precondition("existing project spec is different, use upsert flag to force update") from exc
        else:
            raise from_kube(exc, f"project {name!r}") from exc
    ctx.settings.invalidate()
    audit(
        request,
        caller,
        action="project.create",
        outcome="success",
        kind="AppProject",
        name=name,
        summary={"spec": proj.get("spec")},
    )
    return _present(created)


@router.put("/{name}", summary="Update a project")
async def update_project(
    request: Request, name: str, caller: CallerDep, body: Annotated[ProjectUpdateRequest, Body()]
) -> dict[str, Any]:
    ctx = ctx_of(request)
    proj = _validate(body.project, ctx.deps.namespace)
    if proj["metadata"]["name"] != name:
        raise bad_request("the name in the path and in the body differ")
    current = await _get(request, caller, name, "update")
    replacement = dict(current)
    replacement["spec"] = proj["spec"]
    try:
        updated = await ctx.deps.kube.replace(replacement)
    except Exception as exc:
        raise from_kube(exc, f"project {name!r}") from exc
    ctx.settings.invalidate()
    audit(
        request,
        caller,
        action="project.update",
        outcome="success",
        kind="AppProject",
        name=name,
        summary={"spec": proj.get("spec")},
    )
    return _present(updated)


@router.delete("/{name}", summary="Delete a project (refused while applications use it)")
async def delete_project(request: Request, name: str, caller: CallerDep) -> dict[str, Any]:
    ctx = ctx_of(request)
    await _get(request, caller, name, "delete")
    apps = await ctx.deps.kube.list(APP_API, "Application", ctx.deps.namespace)
    users = [a for a in apps.items if str((a.get("spec") or {}).get("project") or "default") == name]
    if users:
        raise precondition(f"project is referenced by {len(users)} applications")
    try:
        await ctx.deps.kube.delete(APP_API, "AppProject", name, ctx.deps.namespace)
    except Exception as exc:
        if is_not_found(exc):
            raise permission_denied() from exc
        raise from_kube(exc, f"project {name!r}") from exc
    ctx.settings.invalidate()
    audit(request, caller, action="project.delete", outcome="success", kind="AppProject", name=name)
    return {}
