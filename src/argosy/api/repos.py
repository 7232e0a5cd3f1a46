"""``/api/v1/repositories`` and ``/api/v1/repocreds`` over Argo CD's labelled Secrets.

Clusters (``/api/v1/clusters``) live in ``argosy.api.clusters``, which reuses :func:`_delete_secret`.

Credentials are write-only: answers carry the URL, type, name, project, username and flags, never
``password``, ``sshPrivateKey``, ``tlsClientCertKey``, ``githubAppPrivateKey`` or ``bearerToken``.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from typing import Annotated, Any
from urllib.parse import unquote

from fastapi import APIRouter, Body, Depends, Request
from pydantic import BaseModel, ConfigDict

from argosy.api.context import Caller, allowed, audit, authenticate, ctx_of, enforce
from argosy.api.errors import bad_request, from_kube, not_found, precondition
from argosy.core.accounts import secret_data

__all__ = ["repocreds", "repositories"]

repositories = APIRouter(prefix="/api/v1/repositories", tags=["RepositoryService"])
repocreds = APIRouter(prefix="/api/v1/repocreds", tags=["RepoCredsService"])
CallerDep = Annotated[Caller, Depends(authenticate)]

SECRET_TYPE = "argocd.argoproj.io/secret-type"  # noqa: S105 - a label key
PUBLIC_KEYS = (
    "url",
    "type",
    "name",
    "project",
    "username",
    "insecure",
    "enableLfs",
    "proxy",
    "noProxy",
    "forceHttpBasicAuth",
    "enableOCI",
    "githubAppID",
    "githubAppInstallationID",
    "githubAppEnterpriseBaseUrl",
    "gcpServiceAccountKey_set",
)
SECRET_KEYS = (
    "password",
    "sshPrivateKey",
    "tlsClientCertData",
    "tlsClientCertKey",
    "githubAppPrivateKey",
    "bearerToken",
    "gcpServiceAccountKey",
)
FLAG_KEYS = ("insecure", "enableLfs", "forceHttpBasicAuth", "enableOCI")


class RepositoryBody(BaseModel):
    """Argo CD's ``Repository`` (write side)."""

    model_config = ConfigDict(extra="ignore")
    repo: str
    type: str = "git"
    name: str = ""
    project: str = ""
    username: str = ""
    password: str = ""
    sshPrivateKey: str = ""
    tlsClientCertData: str = ""
    tlsClientCertKey: str = ""
    bearerToken: str = ""
    insecure: bool = False
    enableLfs: bool = False
    forceHttpBasicAuth: bool = False
    enableOCI: bool = False


class RepoCredsBody(BaseModel):
    model_config = ConfigDict(extra="ignore")
    url: str
    type: str = "git"
    username: str = ""
    password: str = ""
    sshPrivateKey: str = ""
    tlsClientCertData: str = ""
    tlsClientCertKey: str = ""
    bearerToken: str = ""
    forceHttpBasicAuth: bool = False
    enableOCI: bool = False


def _secret_name(prefix: str, url: str, project: str = "") -> str:
    digest = hashlib.sha256(f"{url}|{project}".encode()).hexdigest()[:10]
    return f"{prefix}-{digest}"


def _b64(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def _public(values: Mapping[str, str], url_key: str) -> dict[str, Any]:
    out: dict[str, Any] = {url_key: values.get("url", "")}
    for key in ("type", "name", "project", "username"):
        if values.get(key):
            out[key] = values[key]
    out.setdefault("type", "git")
    for key in FLAG_KEYS:
        if values.get(key, "").lower() == "true":
            out[key] = True
    # what kind of credential is configured, never its value
    out["hasCredentials"] = any(values.get(k) for k in ("username", *SECRET_KEYS))
    return out


def rbac_repo_object(url: str, project: str) -> str:
    return f"{project}/{url}" if project else url


async def _list(request: Request, secret_type: str) -> list[dict[str, Any]]:
    ctx = ctx_of(request)
    try:
        result = await ctx.deps.kube.list(
            "v1", "Secret", ctx.deps.namespace, label_selector=f"{SECRET_TYPE}={secret_type}"
        )
    except Exception as exc:
        raise from_kube(exc, "repositories") from exc
    return result.items


async def _find(request: Request, secret_type: str, url: str) -> tuple[dict[str, Any], dict[str, str]] | None:
    for secret in await _list(request, secret_type):
        values = secret_data(secret)
        if values.get("url", "").rstrip("/") == url.rstrip("/"):
            return secret, values
    return None


def _secret(ns: str, name: str, secret_type: str, data: Mapping[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": name,
            "namespace": ns,
            "labels": {SECRET_TYPE: secret_type},
            "annotations": {"managed-by": "argocd.argoproj.io"},
        },
        "type": "Opaque",
        "data": {k: _b64(v) for k, v in data.items() if v},
    }


def _values(body: BaseModel, url_key: str) -> dict[str, str]:
    raw = body.model_dump()
    out: dict[str, str] = {"url": raw.pop(url_key)}
    for key, value in raw.items():
        if isinstance(value, bool):
            if value:
                out[key] = "true"
        elif value:
            out[key] = str(value)
    return out


# -- repositories -------------------------------------------------------------------------------


@repositories.get("", summary="List repositories")
async def list_repositories(request: Request, caller: CallerDep) -> dict[str, Any]:
    settings = await ctx_of(request).settings.load()
    items = []
    for secret in await _list(request, "repository"):
        values = secret_data(secret)
        if allowed(
            settings,
            caller,
            "repositories",
            "get",
            rbac_repo_object(values.get("url", ""), values.get("project", "")),
        ):
            items.append(_public(values, "repo"))
    items.sort(key=lambda r: str(r["repo"]))
    return {"metadata": {}, "items": items}


@repositories.get("/{repo:path}", summary="Get a repository")
async def get_repository(request: Request, repo: str, caller: CallerDep) -> dict[str, Any]:
    url = unquote(repo)
    found = await _find(request, "repository", url)
    obj = rbac_repo_object(url, found[1].get("project", "") if found else "")
    await enforce(request, caller, "repositories", "get", obj)
    if found is None:
        raise not_found(f"repository {url!r} not found")
    return _public(found[1], "repo")


@repositories.post("", summary="Add a repository")
async def create_repository(
    request: Request, caller: CallerDep, body: Annotated[RepositoryBody, Body()], upsert: bool = False
) -> dict[str, Any]:
    ctx = ctx_of(request)
    if not body.repo.strip():
        raise bad_request("repo URL is required")
    obj = rbac_repo_object(body.repo, body.project)
    await enforce(request, caller, "repositories", "create", obj, audit_action="repository.create")
    values = _values(body, "repo")
    found = await _find(request, "repository", body.repo)
    if found is not None:
        if not upsert:
            raise precondition("existing repository spec is different; use upsert flag to force update")
        await enforce(request, caller, "repositories", "update", obj, audit_action="repository.update")
        name = str(found[0]["metadata"]["name"])
        new = _secret(ctx.deps.namespace, name, "repository", values)
        new["metadata"]["resourceVersion"] = found[0]["metadata"].get("resourceVersion")
        try:
            await ctx.deps.kube.replace(new)
        except Exception as exc:
            raise from_kube(exc, "repository") from exc
    else:
        name = _secret_name("repo", body.repo, body.project)
        try:
            await ctx.deps.kube.create(_secret(ctx.deps.namespace, name, "repository", values))
        except Exception as exc:
            raise from_kube(exc, "repository") from exc
    audit(
        request,
        caller,
        action="repository.create",
        outcome="success",
        kind="Secret",
        name=name,
        project=body.project,
        summary={"repo": body.repo, "keys": sorted(values)},
    )
    return _public(values, "repo")


async def _delete_secret(
    request: Request,
    caller: Caller,
    secret: Mapping[str, Any],
    *,
    what: str,
    action: str,
    summary: dict[str, Any],
) -> None:
    """Delete a repository, credential-template or cluster Secret and audit it (the caller checked RBAC)."""
    ctx = ctx_of(request)
    name = str(secret["metadata"]["name"])
    try:
        await ctx.deps.kube.delete("v1", "Secret", name, ctx.deps.namespace)
    except Exception as exc:
        raise from_kube(exc, what) from exc
    audit(request, caller, action=action, outcome="success", kind="Secret", name=name, summary=summary)


@repositories.delete("/{repo:path}", summary="Remove a repository")
async def delete_repository(request: Request, repo: str, caller: CallerDep) -> dict[str, Any]:
    url = unquote(repo)
    found = await _find(request, "repository", url)
    obj = rbac_repo_object(url, found[1].get("project", "") if found else "")
    await enforce(request, caller, "repositories", "delete", obj, audit_action="repository.delete")
    if found is None:
        raise not_found(f"repository {url!r} not found")
    await _delete_secret(
        request, caller, found[0], what="repository", action="repository.delete", summary={"repo": url}
    )
    return {}


# -- repocreds ----------------------------------------------------------------------------------


@repocreds.get("", summary="List credential templates")
async def list_repocreds(request: Request, caller: CallerDep) -> dict[str, Any]:
    settings = await ctx_of(request).settings.load()
    items = []
    for secret in await _list(request, "repo-creds"):
        values = secret_data(secret)
        if allowed(settings, caller, "repositories", "get", values.get("url", "")):
            items.append(_public(values, "url"))
    items.sort(key=lambda r: str(r["url"]))
    return {"metadata": {}, "items": items}


@repocreds.post("", summary="Add a credential template")
async def create_repocreds(
    request: Request, caller: CallerDep, body: Annotated[RepoCredsBody, Body()], upsert: bool = False
) -> dict[str, Any]:
    ctx = ctx_of(request)
    if not body.url.strip():
        raise bad_request("url is required")
    await enforce(request, caller, "repositories", "create", body.url, audit_action="repocreds.create")
    values = _values(body, "url")
    found = await _find(request, "repo-creds", body.url)
    name = str(found[0]["metadata"]["name"]) if found else _secret_name("creds", body.url)
    secret = _secret(ctx.deps.namespace, name, "repo-creds", values)
    if found is not None and not upsert:
        raise precondition(
            "existing repository credentials spec is different; use upsert flag to force update"
        )
    if found is not None:
        await enforce(request, caller, "repositories", "update", body.url, audit_action="repocreds.update")
        secret["metadata"]["resourceVersion"] = found[0]["metadata"].get("resourceVersion")
    try:
        if found is None:
            await ctx.deps.kube.create(secret)
        else:
            await ctx.deps.kube.replace(secret)
    except Exception as exc:
        raise from_kube(exc, "repository credentials") from exc
    audit(
        request,
        caller,
        action="repocreds.create",
        outcome="success",
        kind="Secret",
        name=name,
        summary={"url": body.url, "keys": sorted(values)},
    )
    return _public(values, "url")


@repocreds.delete("/{url:path}", summary="Remove a credential template")
async def delete_repocreds(request: Request, url: str, caller: CallerDep) -> dict[str, Any]:
    url = unquote(url)
    await enforce(request, caller, "repositories", "delete", url, audit_action="repocreds.delete")
    found = await _find(request, "repo-creds", url)
    if found is None:
        raise not_found(f"repository credentials {url!r} not found")
    await _delete_secret(
        request,
        caller,
        found[0],
        what="repository credentials",
        action="repocreds.delete",
        summary={"url": url},
    )
    return {}
