"""Kubeconfig loading: pick a context and turn its cluster and user into a :class:`KubeConfig`.

Supported: ``certificate-authority(-data)``, ``insecure-skip-tls-verify``, ``tls-server-name``,
``client-certificate(-data)`` with ``client-key(-data)``, ``token``/``tokenFile`` and
``username``/``password``. Exec and auth-provider plugins are rejected with a clear error.
Relative file paths are resolved against the kubeconfig's directory, as kubectl does. TLS material
becomes an :class:`ssl.SSLContext` (httpx's ``verify=<path>`` is deprecated).
"""

from __future__ import annotations

import base64
import binascii
import os
import ssl
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

__all__ = ["KubeConfig", "KubeConfigError", "default_kubeconfig_path", "load_kubeconfig", "parse_kubeconfig"]


class KubeConfigError(ValueError):
    """The kubeconfig is missing, malformed or uses an unsupported authentication method."""


@dataclass(frozen=True)
class KubeConfig:
    """Where and how to reach one apiserver."""

    server: str
    ssl_context: ssl.SSLContext | None = None
    token: str | None = field(default=None, repr=False)
    basic_auth: tuple[str, str] | None = field(default=None, repr=False)
    namespace: str = "default"
    context: str = ""
    cluster: str = ""
    tls_server_name: str | None = None

    def headers(self) -> dict[str, str]:
        """Authorization headers for every request (empty for client-certificate auth)."""
        if self.token:
            return {"Authorization": f"Bearer {self.token}"}
        if self.basic_auth:
            raw = f"{self.basic_auth[0]}:{self.basic_auth[1]}".encode()
            return {"Authorization": "Basic " + base64.b64encode(raw).decode()}
        return {}


def default_kubeconfig_path() -> Path:
    """``$KUBECONFIG`` (its first entry) or ``~/.kube/config``."""
    env = os.environ.get("KUBECONFIG", "")
    first = next((p for p in env.split(os.pathsep) if p), "")
    return Path(first) if first else Path.home() / ".kube" / "config"


def load_kubeconfig(path: str | os.PathLike[str] | None = None, *, context: str | None = None) -> KubeConfig:
    """Load ``path`` (default :func:`default_kubeconfig_path`) for ``context`` (default: current)."""
    file = Path(path) if path is not None else default_kubeconfig_path()
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise KubeConfigError(f"cannot read kubeconfig {file}: {exc.strerror or exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise KubeConfigError(f"kubeconfig {file} is not valid YAML: {exc}") from None
    return parse_kubeconfig(data, context=context, base_dir=file.parent)


def _named(data: Mapping[str, Any], section: str, name: str, inner: str) -> Mapping[str, Any]:
    for entry in data.get(section) or []:
        if isinstance(entry, Mapping) and entry.get("name") == name:
            value = entry.get(inner) or {}
            if not isinstance(value, Mapping):
                raise KubeConfigError(f"kubeconfig {section} entry {name!r} has no {inner} mapping")
            return value
    raise KubeConfigError(f"kubeconfig has no {section[:-1]} named {name!r}")


def _b64(value: Any, what: str) -> bytes:
    try:
        return base64.b64decode(str(value), validate=False)
    except (binascii.Error, ValueError):
        raise KubeConfigError(f"kubeconfig {what} is not valid base64") from None


def _path(value: Any, base_dir: Path | None) -> Path:
    p = Path(str(value)).expanduser()
    return p if p.is_absolute() or base_dir is None else base_dir / p


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise KubeConfigError(f"cannot read {what} {path}: {exc.strerror or exc}") from None


def _material(section: Mapping[str, Any], key: str, base_dir: Path | None) -> bytes | None:
    if section.get(f"{key}-data"):
        return _b64(section[f"{key}-data"], f"{key}-data")
    if section.get(key):
        return _read(_path(section[key], base_dir), key)
    return None


def _ssl_context(
    cluster: Mapping[str, Any], user: Mapping[str, Any], base_dir: Path | None
) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    if cluster.get("insecure-skip-tls-verify"):
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    else:
        ca = _material(cluster, "certificate-authority", base_dir)
        if ca is not None:
            try:
                context.load_verify_locations(cadata=ca.decode("ascii", errors="strict"))
            except (ssl.SSLError, UnicodeDecodeError, ValueError) as exc:
                raise KubeConfigError(
                    f"kubeconfig certificate authority is not a PEM bundle: {exc}"
                ) from None
    cert = _material(user, "client-certificate", base_dir)
    key = _material(user, "client-key", base_dir)
    if (cert is None) != (key is None):
        raise KubeConfigError("kubeconfig user has a client certificate without a key (or the reverse)")
    if cert is not None and key is not None:
        # ssl can load a certificate chain only from files: write both into a private (0700)
        # directory, load them and remove them at once.
        with tempfile.TemporaryDirectory(prefix="argosy-kube-") as tmp:
            cert_file, key_file = Path(tmp) / "client.crt", Path(tmp) / "client.key"
            for file, content in ((cert_file, cert), (key_file, key)):
                fd = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "wb") as handle:
                    handle.write(content)
            try:
                context.load_cert_chain(str(cert_file), str(key_file))
            except ssl.SSLError as exc:
                raise KubeConfigError(f"kubeconfig client certificate/key cannot be loaded: {exc}") from None
    return context


def parse_kubeconfig(
    data: Any, *, context: str | None = None, base_dir: str | os.PathLike[str] | None = None
) -> KubeConfig:
    """Build a :class:`KubeConfig` from a decoded kubeconfig mapping."""
    if not isinstance(data, Mapping):
        raise KubeConfigError("kubeconfig is not a mapping")
    base = Path(base_dir) if base_dir is not None else None
    context_name = context or str(data.get("current-context") or "")
    if not context_name:
        raise KubeConfigError("kubeconfig has no current-context and no context was given")
    ctx = _named(data, "contexts", context_name, "context")
    cluster_name = str(ctx.get("cluster") or "")
    cluster = _named(data, "clusters", cluster_name, "cluster")
    user_name = str(ctx.get("user") or "")
    user: Mapping[str, Any] = _named(data, "users", user_name, "user") if user_name else {}
    server = str(cluster.get("server") or "").rstrip("/")
    if not server:
        raise KubeConfigError(f"kubeconfig cluster {cluster_name!r} has no server")
    if user.get("exec") or user.get("auth-provider"):
        raise KubeConfigError(
            f"kubeconfig user {user_name!r} uses an exec or auth-provider plugin, which is not supported; "
            "use a token or a client certificate"
        )
    token: str | None = None
    if user.get("token"):
        token = str(user["token"]).strip()
    elif user.get("tokenFile"):
        token = _read(_path(user["tokenFile"], base), "tokenFile").decode().strip()
    basic = (str(user["username"]), str(user.get("password") or "")) if user.get("username") else None
    ssl_context = _ssl_context(cluster, user, base) if server.startswith("https://") else None
    return KubeConfig(
        server=server,
        ssl_context=ssl_context,
        token=token,
        basic_auth=basic,
        namespace=str(ctx.get("namespace") or "default"),
        context=context_name,
        cluster=cluster_name,
        tls_server_name=str(cluster["tls-server-name"]) if cluster.get("tls-server-name") else None,
    )
