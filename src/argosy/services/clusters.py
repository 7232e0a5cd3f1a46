"""Destination clusters: Argo CD cluster Secrets and the connections the controller keeps to them.

Layer 4 (``argosy.services``). A Secret labelled ``argocd.argoproj.io/secret-type: cluster`` in the
control namespace describes a cluster (argocd-semantics.md, declarative setup): ``name``,
``server``, ``config`` (JSON: ``bearerToken``, ``username``/``password``,
``tlsClientConfig{caData, certData, keyData, insecure, serverName}``; ``caData``/``certData``/
``keyData`` are base64 PEM), ``namespaces`` (comma separated: the cluster is managed in namespaced
mode) and ``clusterResources`` (``true``: cluster-scoped objects may be managed in namespaced mode),
``project``. The in-cluster destination (``https://kubernetes.default.svc``, name ``in-cluster``) is
the controller's own cluster.

:class:`ClusterConnector` is the port the bootstrap satisfies (``argosy.adapters.kube.remote``): it
opens a Kubernetes client and a live cache for one :class:`ClusterSpec`. Credentials never appear
in ``repr``, logs or error messages.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from argosy.core.accounts import secret_data
from argosy.ports.kube import KubeWatch

__all__ = [
    "IN_CLUSTER_NAME",
    "IN_CLUSTER_SERVER",
    "ClusterConnection",
    "ClusterConnector",
    "ClusterError",
    "ClusterSpec",
    "is_cluster_secret",
    "parse_cluster_secret",
]

IN_CLUSTER_SERVER = "https://kubernetes.default.svc"
IN_CLUSTER_NAME = "in-cluster"
SECRET_TYPE_LABEL = "argocd.argoproj.io/secret-type"  # noqa: S105 (a label name)


class ClusterError(ValueError):
    """A cluster Secret that cannot be used (the message names the Secret and the key, never a value)."""


@dataclass(frozen=True, slots=True)
class ClusterSpec:
    """One cluster from its Secret."""

    name: str
    server: str
    secret_name: str = ""
    bearer_token: str = field(default="", repr=False)
    username: str = ""
    password: str = field(default="", repr=False)
    ca_data: str = field(default="", repr=False)
    """PEM (decoded from the config's base64 ``caData``)."""
    cert_data: str = field(default="", repr=False)
    key_data: str = field(default="", repr=False)
    insecure: bool = False
    server_name: str = ""
    namespaces: tuple[str, ...] = ()
    cluster_resources: bool = False
    project: str = ""

    @property
    def fingerprint(self) -> str:
        """Changes whenever anything that affects the connection changes (a reconnect is due)."""
        raw = json.dumps(
            [
                self.server,
                self.bearer_token,
                self.username,
                self.password,
                self.ca_data,
                self.cert_data,
                self.key_data,
                self.insecure,
                self.server_name,
                self.namespaces,
            ]
        )
        return hashlib.sha256(raw.encode()).hexdigest()

    def namespace_allowed(self, namespace: str) -> bool:
        return not self.namespaces or namespace in self.namespaces


def normalize_server(server: str) -> str:
    return server.strip().rstrip("/")


def is_cluster_secret(secret: Mapping[str, Any]) -> bool:
    labels = (secret.get("metadata") or {}).get("labels") or {}
    return isinstance(labels, Mapping) and labels.get(SECRET_TYPE_LABEL) == "cluster"


def _pem(value: Any, what: str, where: str) -> str:
    if not value:
        return ""
    try:
        return base64.b64decode(str(value), validate=True).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise ClusterError(f"{where}: config.tlsClientConfig.{what} is not base64 PEM") from None


def parse_cluster_secret(secret: Mapping[str, Any]) -> ClusterSpec:
    """The :class:`ClusterSpec` of a cluster Secret; :class:`ClusterError` when it is unusable."""
    secret_name = str((secret.get("metadata") or {}).get("name") or "")
    where = f"cluster Secret {secret_name!r}"
    data = secret_data(secret)
    server = normalize_server(data.get("server", ""))
    if not server:
        raise ClusterError(f"{where}: no server")
    config: Any = {}
    if data.get("config"):
        try:
            config = json.loads(data["config"])
        except ValueError:
            raise ClusterError(f"{where}: config is not JSON") from None
    if not isinstance(config, Mapping):
        raise ClusterError(f"{where}: config is not a JSON object")
    tls = config.get("tlsClientConfig") or {}
    if not isinstance(tls, Mapping):
        raise ClusterError(f"{where}: config.tlsClientConfig is not an object")
    if config.get("execProviderConfig") or config.get("awsAuthConfig"):
        raise ClusterError(f"{where}: execProviderConfig and awsAuthConfig are not supported")
    namespaces = tuple(n.strip() for n in data.get("namespaces", "").split(",") if n.strip())
    cert, key = _pem(tls.get("certData"), "certData", where), _pem(tls.get("keyData"), "keyData", where)
    if bool(cert) != bool(key):
        raise ClusterError(f"{where}: config.tlsClientConfig has certData without keyData (or the reverse)")
    return ClusterSpec(
        name=data.get("name", "") or server,
        server=server,
        secret_name=secret_name,
        bearer_token=str(config.get("bearerToken") or ""),
        username=str(config.get("username") or ""),
        password=str(config.get("password") or ""),
        ca_data=_pem(tls.get("caData"), "caData", where),
        cert_data=cert,
        key_data=key,
        insecure=bool(tls.get("insecure")),
        server_name=str(tls.get("serverName") or ""),
        namespaces=namespaces,
        cluster_resources=data.get("clusterResources", "").strip().lower() == "true",
        project=data.get("project", ""),
    )


class ClusterConnection(Protocol):
    """A client and a live cache for one cluster (the cache satisfies the controller's LiveCache)."""

    @property
    def kube(self) -> KubeWatch: ...

    @property
    def cache(self) -> Any: ...

    async def close(self) -> None: ...


class ClusterConnector(Protocol):
    """Opens connections to destination clusters (``argosy.adapters.kube.remote.RemoteClusters``)."""

    async def connect(self, spec: ClusterSpec) -> ClusterConnection: ...
