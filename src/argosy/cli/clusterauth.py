"""The manager identity ``argosy cluster add`` installs in a target cluster (Argo CD's ``clusterauth``).

Layer 5 (``argosy.cli``), local tooling: talks to the target cluster straight from the kubeconfig
(``argosy.adapters.kube``), never through the API server. ``install`` creates a ServiceAccount
(default ``argocd-manager`` in ``kube-system``), binds it to a ClusterRole with every verb on every
resource and non-resource URL (or, when namespaces are given, a Role in each), creates a long-lived
token Secret (``kubernetes.io/service-account-token``) and waits for the token controller to fill
it in. ``uninstall`` removes what ``install`` created. Tokens are returned, never printed or logged.
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from argosy.adapters.kube import KubeClient
from argosy.adapters.kube.config import KubeConfigError, default_kubeconfig_path, load_kubeconfig
from argosy.ports.kube import ErrorKind, error_kind

__all__ = ["KubeTarget", "Manager", "install", "read_target", "uninstall"]

RBAC = "rbac.authorization.k8s.io/v1"
TOKEN_TYPE = "kubernetes.io/service-account-token"  # noqa: S105 - a Secret type
CLUSTER_RULES = [
    {"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]},
    {"nonResourceURLs": ["*"], "verbs": ["*"]},
]
NAMESPACE_RULES = [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]


class ClusterAuthError(Exception):
    """Something in the target cluster or the kubeconfig went wrong (no credential in the message)."""


@dataclass(frozen=True)
class KubeTarget:
    """A kubeconfig context: where its cluster is and how Argo CD should trust it."""

    path: Path
    context: str
    server: str
    ca_data: str = field(default="", repr=False)
    """base64 PEM, as the cluster Secret's ``tlsClientConfig.caData`` wants it."""
    insecure: bool = False
    server_name: str = ""


@dataclass(frozen=True)
class Manager:
    """The ServiceAccount and what is bound to it."""

    service_account: str = "argocd-manager"
    namespace: str = "kube-system"
    namespaces: tuple[str, ...] = ()

    @property
    def role(self) -> str:
        return f"{self.service_account}-role"

    @property
    def binding(self) -> str:
        return f"{self.service_account}-role-binding"

    @property
    def token_secret(self) -> str:
        return f"{self.service_account}-long-lived-token"


def _named(data: Mapping[str, Any], section: str, name: str) -> Mapping[str, Any] | None:
    for entry in data.get(section) or []:
        if isinstance(entry, Mapping) and entry.get("name") == name:
            return entry
    return None


def read_target(path: Path | None, context: str) -> KubeTarget:
    """Server, CA and TLS flags of ``context`` in the kubeconfig ``path`` (default: ``$KUBECONFIG``)."""
    file = path or default_kubeconfig_path()
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ClusterAuthError(f"cannot read kubeconfig {file}: {exc}") from None
    if not isinstance(data, Mapping):
        raise ClusterAuthError(f"kubeconfig {file} is not a mapping")
    ctx = _named(data, "contexts", context)
    if ctx is None:
        raise ClusterAuthError(f"Context {context} does not exist in kubeconfig")
    cluster_name = str((ctx.get("context") or {}).get("cluster") or "")
    entry = _named(data, "clusters", cluster_name)
    cluster: Mapping[str, Any] = (entry or {}).get("cluster") or {}
    server = str(cluster.get("server") or "").rstrip("/")
    if not server:
        raise ClusterAuthError(f"kubeconfig cluster {cluster_name!r} has no server")
    ca = str(cluster.get("certificate-authority-data") or "")
    if not ca and cluster.get("certificate-authority"):
        ca_path = Path(str(cluster["certificate-authority"])).expanduser()
        ca_path = ca_path if ca_path.is_absolute() else file.parent / ca_path
        try:
            ca = base64.b64encode(ca_path.read_bytes()).decode("ascii")
        except OSError as exc:
            raise ClusterAuthError(f"cannot read certificate-authority {ca_path}: {exc.strerror}") from None
    return KubeTarget(
        path=file,
        context=context,
        server=server,
        ca_data=ca,
        insecure=bool(cluster.get("insecure-skip-tls-verify")),
        server_name=str(cluster.get("tls-server-name") or ""),
    )


def _client(target: KubeTarget) -> KubeClient:
    try:
        return KubeClient(load_kubeconfig(target.path, context=target.context), timeout=15.0)
    except KubeConfigError as exc:
        raise ClusterAuthError(str(exc)) from None


async def _create_or_update(kube: KubeClient, obj: dict[str, Any], say: Callable[[str], None]) -> None:
    meta = obj["metadata"]
    what = f'{obj["kind"]} "{meta["name"]}"'
    where = f' in namespace "{meta["namespace"]}"' if "namespace" in meta else ""
    try:
        await kube.create(obj)
        say(f"{what} created{where}")  # argocd's words: ServiceAccount "x" created in namespace "y"
    except Exception as exc:
        if error_kind(exc) is not ErrorKind.ALREADY_EXISTS:
            raise ClusterAuthError(f"cannot create {what}{where}: {exc}") from None
        if obj["kind"] in {"ServiceAccount", "Secret"}:
            say(f"{what} already exists{where}")
            return
        live = await kube.get(obj["apiVersion"], obj["kind"], meta["name"], meta.get("namespace"))
        obj = {**obj, "metadata": {**meta, "resourceVersion": live["metadata"]["resourceVersion"]}}
        try:
            await kube.replace(obj)
        except Exception as err:
            raise ClusterAuthError(f"cannot update {what}{where}: {err}") from None
        say(f"{what} updated{where}")


def _objects(m: Manager) -> list[dict[str, Any]]:
    subject = [{"kind": "ServiceAccount", "name": m.service_account, "namespace": m.namespace}]
    objects: list[dict[str, Any]] = [
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": m.service_account, "namespace": m.namespace},
        }
    ]
    if not m.namespaces:
        objects += [
            {"apiVersion": RBAC, "kind": "ClusterRole", "metadata": {"name": m.role}, "rules": CLUSTER_RULES},
            {
                "apiVersion": RBAC,
                "kind": "ClusterRoleBinding",
                "metadata": {"name": m.binding},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": m.role},
                "subjects": subject,
            },
        ]
    for ns in m.namespaces:
        objects += [
            {
                "apiVersion": RBAC,
                "kind": "Role",
                "metadata": {"name": m.role, "namespace": ns},
                "rules": NAMESPACE_RULES,
            },
            {
                "apiVersion": RBAC,
                "kind": "RoleBinding",
                "metadata": {"name": m.binding, "namespace": ns},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": m.role},
                "subjects": subject,
            },
        ]
    objects.append(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": TOKEN_TYPE,
            "metadata": {
                "name": m.token_secret,
                "namespace": m.namespace,
                "annotations": {"kubernetes.io/service-account.name": m.service_account},
            },
        }
    )
    return objects


async def _install(target: KubeTarget, m: Manager, say: Callable[[str], None], timeout: float) -> str:
    async with _client(target) as kube:
        for obj in _objects(m):
            await _create_or_update(kube, obj, say)
        deadline = time.monotonic() + timeout
        while True:
            try:
                secret = await kube.get("v1", "Secret", m.token_secret, m.namespace)
            except Exception as exc:
                raise ClusterAuthError(f'cannot read Secret "{m.token_secret}": {exc}') from None
            token = ((secret.get("data") or {}).get("token")) or ""
            if token:
                say(f'Created bearer token secret for ServiceAccount "{m.service_account}"')
                return base64.b64decode(token).decode("ascii")
            if time.monotonic() > deadline:
                raise ClusterAuthError(
                    f"timed out after {timeout:.0f}s waiting for the token of ServiceAccount "
                    f'"{m.service_account}" '
                    "(is the token controller of kube-controller-manager running?)"
                )
            await asyncio.sleep(0.5)


def install(
    target: KubeTarget, manager: Manager, say: Callable[[str], None], *, timeout: float = 60.0
) -> str:
    """Create the manager ServiceAccount, its RBAC and token Secret; return the bearer token."""
    return asyncio.run(_install(target, manager, say, timeout))


async def _uninstall(target: KubeTarget, m: Manager, say: Callable[[str], None]) -> list[str]:
    failures: list[str] = []
    async with _client(target) as kube:
        for obj in reversed(_objects(m)):
            meta = obj["metadata"]
            try:
                await kube.delete(obj["apiVersion"], obj["kind"], meta["name"], meta.get("namespace"))
                say(f'{obj["kind"]} "{meta["name"]}" deleted')
            except Exception as exc:
                if error_kind(exc) is not ErrorKind.NOT_FOUND:
                    failures.append(f'{obj["kind"]} "{meta["name"]}": {exc}')
    return failures


def uninstall(target: KubeTarget, manager: Manager, say: Callable[[str], None]) -> Sequence[str]:
    """Remove what :func:`install` created (what is already gone is skipped); the failures."""
    return asyncio.run(_uninstall(target, manager, say))
