"""``/api/v1/clusters``: Argo CD's ClusterService over cluster Secrets (``secret-type: cluster``).

Layer 5 (``argosy.api``). Writes the Secrets the controller reads (``argosy.services.clusters``):
``server``, ``name``, ``config`` (JSON), ``namespaces`` (comma separated), ``clusterResources``,
``project``, with the cluster's labels and annotations on the Secret. The Secret is named as Argo CD
names it (``cluster-<host>-<fnv32a(server)>``).

Credentials are write-only: every answer is Argo CD's sanitized cluster (``config.tlsClientConfig``
keeps only ``insecure`` and ``serverName``), never ``bearerToken``, ``password``, ``keyData``. Audit
records carry the server, the name and the list of config keys, never their values. RBAC resource
``clusters``, object ``<server>`` or ``<project>/<server>``, as Argo CD's ``CreateClusterRBACName``.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Annotated, Any, Literal
from urllib.parse import unquote, urlsplit

from fastapi import APIRouter, Body, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from argosy.api.context import Caller, allowed, audit, authenticate, ctx_of, enforce
from argosy.api.errors import bad_request, from_kube, not_found, permission_denied, precondition
from argosy.api.repos import _delete_secret  # the shared delete-and-audit helper
from argosy.core.accounts import secret_data
from argosy.services.clusters import IN_CLUSTER_NAME, IN_CLUSTER_SERVER, normalize_server

__all__ = ["cluster_secret_name", "router", "sanitized"]

router = APIRouter(prefix="/api/v1/clusters", tags=["ClusterService"])
CallerDep = Annotated[Caller, Depends(authenticate)]
IdType = Annotated[Literal["server", "name", "name_escaped"], Query(alias="id.type")]

SECRET_TYPE = "argocd.argoproj.io/secret-type"  # noqa: S105 - a label key
MANAGED_BY = "managed-by"
IN_CLUSTER_DELETE = (
    'failed to delete cluster "https://kubernetes.default.svc": the in-cluster cluster cannot be '
    'removed; set cluster.inClusterEnabled: "false" in argocd-cm to disable it'
)
#: Fields ``PUT ...?updatedFields=`` may name (Argo CD's ClusterUpdateRequest).
UPDATABLE = ("name", "namespaces", "project", "labels", "annotations", "clusterResources", "config")


class TLSClientConfig(BaseModel):
    model_config = ConfigDict(extra="ignore")
    caData: str = ""
    certData: str = ""
    keyData: str = ""
    insecure: bool = False
    serverName: str = ""


class ClusterConfig(BaseModel):
    model_config = ConfigDict(extra="ignore")
    bearerToken: str = ""
    username: str = ""
    password: str = ""
    tlsClientConfig: TLSClientConfig = Field(default_factory=TLSClientConfig)


class ClusterBody(BaseModel):
    """Argo CD's ``Cluster`` (write side)."""

    model_config = ConfigDict(extra="ignore")
    server: str = ""
    name: str = ""
    config: ClusterConfig = Field(default_factory=ClusterConfig)
    namespaces: list[str] = Field(default_factory=list)
    clusterResources: bool = False
    project: str = ""
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)


def _fnv32a(text: str) -> int:
    value = 0x811C9DC5
    for byte in text.encode("utf-8"):
        value = ((value ^ byte) * 0x01000193) & 0xFFFFFFFF
    return value


def cluster_secret_name(server: str) -> str:
    """Argo CD's ``URIToSecretName("cluster", server)``: ``cluster-<host>-<fnv32a(server)>``."""
    host = urlsplit(server).netloc.rpartition("@")[2]
    bracketed = host.startswith("[")  # an IPv6 literal: its colons become dashes
    host = host[1 : host.find("]")].replace(":", "-") if bracketed else host.partition(":")[0]
    return f"cluster-{host.lower() or 'unknown'}-{_fnv32a(server)}"


def rbac_object(server: str, project: str) -> str:
    return f"{project}/{server}" if project else server


def _config_json(config: ClusterConfig) -> dict[str, Any]:
    out: dict[str, Any] = {k: v for k, v in config.model_dump(exclude={"tlsClientConfig"}).items() if v}
    tls = {k: v for k, v in config.tlsClientConfig.model_dump().items() if v}
    out["tlsClientConfig"] = {"insecure": False, **tls}
    return out


def _validate(body: ClusterBody) -> None:
    server = normalize_server(body.server)
    parts = urlsplit(server)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise bad_request(f"invalid cluster server URL {body.server!r}")
    tls = body.config.tlsClientConfig
    for key in ("caData", "certData", "keyData"):
        value = getattr(tls, key)
        if value:
            try:
                base64.b64decode(value, validate=True).decode("ascii")
            except ValueError:
                raise bad_request(f"config.tlsClientConfig.{key} is not base64 PEM") from None
    if bool(tls.certData) != bool(tls.keyData):
        raise bad_request("config.tlsClientConfig.certData needs keyData (and the reverse)")


def _secret(namespace: str, name: str, body: ClusterBody) -> dict[str, Any]:
    server = normalize_server(body.server)
    data = {
        "server": server,
        "name": body.name or server,
        "config": json.dumps(_config_json(body.config), separators=(",", ":"), sort_keys=True),
        "namespaces": ",".join(n.strip() for n in body.namespaces if n.strip()),
        "clusterResources": "true" if body.clusterResources else "",
        "project": body.project,
    }
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {**body.labels, SECRET_TYPE: "cluster"},
            "annotations": {**body.annotations, MANAGED_BY: "argocd.argoproj.io"},
        },
        "type": "Opaque",
        "data": {k: base64.b64encode(v.encode()).decode("ascii") for k, v in data.items() if v},
    }


def _config_keys(body: ClusterBody) -> list[str]:
    """Which config fields are set (names only: the audit summary never holds a value)."""
    config = _config_json(body.config)
    keys = [k for k in config if k != "tlsClientConfig"]
    keys += [f"tlsClientConfig.{k}" for k, v in config["tlsClientConfig"].items() if v]
    return sorted(keys)


def sanitized(secret: Mapping[str, Any]) -> dict[str, Any]:
    """Argo CD's ``Cluster.Sanitized()`` of a cluster Secret: no credential, no CA, no key."""
    values = secret_data(secret)
    meta = secret.get("metadata") or {}
    server = normalize_server(values.get("server", ""))
    try:
        config = json.loads(values.get("config") or "{}")
    except ValueError:
        config = {}
    tls = (config.get("tlsClientConfig") if isinstance(config, Mapping) else None) or {}
    tls = tls if isinstance(tls, Mapping) else {}
    out: dict[str, Any] = {
        "server": server,
        "name": values.get("name", "") or server,
        "config": {"tlsClientConfig": {"insecure": bool(tls.get("insecure"))}},
    }
    if tls.get("serverName"):
        out["config"]["tlsClientConfig"]["serverName"] = str(tls["serverName"])
    namespaces = [n.strip() for n in values.get("namespaces", "").split(",") if n.strip()]
    if namespaces:
        out["namespaces"] = namespaces
    if values.get("clusterResources", "").strip().lower() == "true":
        out["clusterResources"] = True
    if values.get("project"):
        out["project"] = values["project"]
    labels = {k: v for k, v in (meta.get("labels") or {}).items() if k != SECRET_TYPE}
    annotations = {k: v for k, v in (meta.get("annotations") or {}).items() if k != MANAGED_BY}
    if labels:
        out["labels"] = labels
    if annotations:
        out["annotations"] = annotations
    return out


def _in_cluster() -> dict[str, Any]:
    return {
        "server": IN_CLUSTER_SERVER,
        "name": IN_CLUSTER_NAME,
        "config": {"tlsClientConfig": {"insecure": False}},
    }


async def _secrets(request: Request) -> list[dict[str, Any]]:
    ctx = ctx_of(request)
    try:
        result = await ctx.deps.kube.list(
            "v1", "Secret", ctx.deps.namespace, label_selector=f"{SECRET_TYPE}=cluster"
        )
    except Exception as exc:
        raise from_kube(exc, "clusters") from exc
    return result.items


async def _find(request: Request, ident: str, id_type: str) -> dict[str, Any] | None:
    """The cluster Secret whose server (or name) is ``ident``."""
    for secret in await _secrets(request):
        values = secret_data(secret)
        if id_type == "server":
            if normalize_server(values.get("server", "")) == normalize_server(ident):
                return secret
        elif (values.get("name") or normalize_server(values.get("server", ""))) == ident:
            return secret
    return None


def _ident(value: str, _id_type: str) -> str:
    return unquote(value)  # a name_escaped or an escaped server arrives escaped once more


def _is_in_cluster(ident: str, id_type: str) -> bool:
    if id_type == "server":
        return normalize_server(ident) == IN_CLUSTER_SERVER
    return ident == IN_CLUSTER_NAME


async def _in_cluster_enabled(request: Request) -> bool:
    settings = await ctx_of(request).settings.load()
    return settings.cm.get("cluster.inClusterEnabled", "true").lower() != "false"


async def _not_found(request: Request, caller: Caller, ident: str, action: str) -> Exception:
    """404 for a caller who could act on any such cluster, else 403 (nothing leaks)."""
    settings = await ctx_of(request).settings.load()
    if allowed(settings, caller, "clusters", action, ident):
        return not_found(f'cluster "{ident}" not found')
    return permission_denied()


# -- routes -------------------------------------------------------------------------------------


@router.get("", summary="List clusters (never their credentials)")
async def list_clusters(request: Request, caller: CallerDep) -> dict[str, Any]:
    settings = await ctx_of(request).settings.load()
    entries = [sanitized(secret) for secret in await _secrets(request)]
    if IN_CLUSTER_SERVER not in {e["server"] for e in entries} and await _in_cluster_enabled(request):
        entries.insert(0, _in_cluster())
    items = [
        e
        for e in entries
        if allowed(settings, caller, "clusters", "get", rbac_object(e["server"], e.get("project", "")))
    ]
    return {"metadata": {}, "items": items}


@router.get("/{server:path}", summary="Get a cluster (never its credentials)")
async def get_cluster(
    request: Request, server: str, caller: CallerDep, id_type: IdType = "server"
) -> dict[str, Any]:
    ident = _ident(server, id_type)
    secret = await _find(request, ident, id_type)
    if secret is None:
        if _is_in_cluster(ident, id_type) and await _in_cluster_enabled(request):
            await enforce(request, caller, "clusters", "get", IN_CLUSTER_SERVER)
            return _in_cluster()
        raise await _not_found(request, caller, ident, "get")
    answer = sanitized(secret)
    await enforce(
        request, caller, "clusters", "get", rbac_object(answer["server"], answer.get("project", ""))
    )
    return answer


@router.post("", summary="Add a cluster")
async def create_cluster(
    request: Request, caller: CallerDep, body: Annotated[ClusterBody, Body()], upsert: bool = False
) -> dict[str, Any]:
    ctx = ctx_of(request)
    _validate(body)
    server = normalize_server(body.server)
    obj = rbac_object(server, body.project)
    await enforce(request, caller, "clusters", "create", obj, audit_action="cluster.create")
    found = await _find(request, server, "server")
    if found is not None:
        name = str(found["metadata"]["name"])
        new = _secret(ctx.deps.namespace, name, body)
        same = all(new[k] == found.get(k) for k in ("data",)) and all(
            new["metadata"][k] == (found["metadata"].get(k) or {}) for k in ("labels", "annotations")
        )
        if same:
            return sanitized(found)  # the same spec: Argo CD answers the existing cluster
        if not upsert:
            raise bad_request("existing cluster spec is different; use upsert flag to force update")
        await enforce(request, caller, "clusters", "update", obj, audit_action="cluster.update")
        new["metadata"]["resourceVersion"] = found["metadata"].get("resourceVersion")
        try:
            await ctx.deps.kube.replace(new)
        except Exception as exc:
            raise from_kube(exc, "cluster") from exc
    else:
        name = cluster_secret_name(server)
        new = _secret(ctx.deps.namespace, name, body)
        try:
            await ctx.deps.kube.create(new)
        except Exception as exc:
            raise from_kube(exc, "cluster") from exc
    audit(
        request,
        caller,
        action="cluster.update" if found is not None else "cluster.create",
        outcome="success",
        kind="Secret",
        name=name,
        project=body.project,
        summary={"server": server, "name": body.name or server, "config": _config_keys(body)},
    )
    return sanitized(new)


@router.put("/{server:path}", summary="Update a cluster")
async def update_cluster(
    request: Request,
    server: str,
    *,
    caller: CallerDep,
    body: Annotated[ClusterBody, Body()],
    updated_fields: Annotated[list[str] | None, Query(alias="updatedFields")] = None,
    id_type: IdType = "server",
) -> dict[str, Any]:
    ctx = ctx_of(request)
    ident = _ident(server, id_type)
    found = await _find(request, ident, id_type)
    if found is None:
        raise await _not_found(request, caller, ident, "update")
    old = sanitized(found)
    await enforce(
        request,
        caller,
        "clusters",
        "update",
        rbac_object(old["server"], old.get("project", "")),
        audit_action="cluster.update",
    )
    if updated_fields:
        unknown = sorted(set(updated_fields) - set(UPDATABLE))
        if unknown:
            raise bad_request(f"updatedFields: unknown fields {unknown}")
        merged = _body_of(found)
        for key in updated_fields:
            setattr(merged, key, getattr(body, key))
        body = merged
    if not body.server:
        body.server = old["server"]
    _validate(body)
    if normalize_server(body.server) != old["server"]:
        raise precondition("the server of a cluster cannot be changed; remove it and add it again")
    obj = rbac_object(old["server"], body.project)
    if body.project != old.get("project", ""):
        await enforce(request, caller, "clusters", "update", obj, audit_action="cluster.update")
    name = str(found["metadata"]["name"])
    new = _secret(ctx.deps.namespace, name, body)
    new["metadata"]["resourceVersion"] = found["metadata"].get("resourceVersion")
    try:
        await ctx.deps.kube.replace(new)
    except Exception as exc:
        raise from_kube(exc, "cluster") from exc
    audit(
        request,
        caller,
        action="cluster.update",
        outcome="success",
        kind="Secret",
        name=name,
        project=body.project,
        summary={"server": old["server"], "name": body.name, "config": _config_keys(body)},
    )
    return sanitized(new)


def _body_of(secret: Mapping[str, Any]) -> ClusterBody:
    """The full spec of a stored cluster (credentials included: server-side only, never answered)."""
    values = secret_data(secret)
    meta = secret.get("metadata") or {}
    try:
        config = json.loads(values.get("config") or "{}")
    except ValueError:
        config = {}
    return ClusterBody(
        server=values.get("server", ""),
        name=values.get("name", ""),
        config=ClusterConfig.model_validate(config if isinstance(config, Mapping) else {}),
        namespaces=[n for n in values.get("namespaces", "").split(",") if n],
        clusterResources=values.get("clusterResources", "").lower() == "true",
        project=values.get("project", ""),
        labels={k: v for k, v in (meta.get("labels") or {}).items() if k != SECRET_TYPE},
        annotations={k: v for k, v in (meta.get("annotations") or {}).items() if k != MANAGED_BY},
    )


@router.delete("/{server:path}", summary="Remove a cluster")
async def delete_cluster(
    request: Request, server: str, caller: CallerDep, id_type: IdType = "server"
) -> dict[str, Any]:
    ident = _ident(server, id_type)
    found = await _find(request, ident, id_type)
    if found is None:
        if _is_in_cluster(ident, id_type):
            await enforce(
                request, caller, "clusters", "delete", IN_CLUSTER_SERVER, audit_action="cluster.delete"
            )
            raise bad_request(IN_CLUSTER_DELETE)
        raise await _not_found(request, caller, ident, "delete")
    old = sanitized(found)
    await enforce(
        request,
        caller,
        "clusters",
        "delete",
        rbac_object(old["server"], old.get("project", "")),
        audit_action="cluster.delete",
    )
    await _delete_secret(
        request,
        caller,
        found,
        what="cluster",
        action="cluster.delete",
        summary={"server": old["server"], "name": old["name"]},
    )
    return {}
