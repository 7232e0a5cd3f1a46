"""The HTTP side of the ``argosy`` CLI: connection options, contexts in ``~/.config/argosy/config``,
and a small httpx client for the API server with argocd's exit codes.

Global options on every API command (argocd-semantics §4.1): ``--server`` (``ARGOCD_SERVER`` /
``ARGOSY_SERVER``), ``--auth-token`` (``ARGOCD_AUTH_TOKEN`` / ``ARGOSY_AUTH_TOKEN``), ``--insecure``,
``--plaintext``, ``--grpc-web`` (accepted, no effect: we speak plain HTTP/JSON), ``--config``.
As argocd: HTTPS with certificate verification by default; ``--insecure`` accepts any certificate
(e.g. the server's generated self-signed one); ``--plaintext`` speaks HTTP.
"""

from __future__ import annotations

import os
import ssl
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, NoReturn
from urllib.parse import quote

import httpx
import typer
import yaml

__all__ = [
    "EXIT_ERROR",
    "EXIT_FAILED",
    "ApiClient",
    "CliError",
    "Conn",
    "conn",
    "errors",
    "fail",
    "load_config",
    "save_config",
]

EXIT_FAILED = 1  # a failed operation, a timeout (argocd's log.Fatalf paths)
EXIT_ERROR = 20  # any other error (argocd's ErrorGeneric)
CSRF_HEADER = "X-Argosy-CSRF"

ServerOpt = Annotated[
    str | None,
    typer.Option("--server", envvar=["ARGOSY_SERVER", "ARGOCD_SERVER"], help="API server host:port."),
]
TokenOpt = Annotated[
    str | None,
    typer.Option(
        "--auth-token",
        envvar=["ARGOSY_AUTH_TOKEN", "ARGOCD_AUTH_TOKEN"],
        help="Bearer token.",
        show_default=False,
    ),
]
InsecureOpt = Annotated[
    bool, typer.Option("--insecure", envvar="ARGOSY_INSECURE", help="Skip TLS certificate verification.")
]
PlaintextOpt = Annotated[
    bool, typer.Option("--plaintext", envvar="ARGOSY_PLAINTEXT", help="Use HTTP, not HTTPS.")
]
GrpcWebOpt = Annotated[bool, typer.Option("--grpc-web", help="Accepted for argocd compatibility; no effect.")]
ConfigOpt = Annotated[
    Path | None,
    typer.Option("--config", envvar="ARGOSY_CONFIG", help="Config file (default ~/.config/argosy/config)."),
]


class CliError(Exception):
    def __init__(self, message: str, code: int = EXIT_ERROR) -> None:
        super().__init__(message)
        self.code = code


def fail(message: str, code: int = EXIT_ERROR) -> NoReturn:
    print(f"FATA[0000] {message}", file=sys.stderr)
    raise typer.Exit(code)


def config_path(explicit: Path | None = None) -> Path:
    if explicit is not None:
        return explicit
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "argosy" / "config"


def load_config(path: Path | None = None) -> dict[str, Any]:
    file = config_path(path)
    if not file.exists():
        return {"contexts": [], "current-context": ""}
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise CliError(f"cannot read {file}: {exc}") from exc
    if not isinstance(data, dict):
        raise CliError(f"{file} is not a mapping")
    data.setdefault("contexts", [])
    data.setdefault("current-context", "")
    return data


def save_config(data: dict[str, Any], path: Path | None = None) -> None:
    file = config_path(path)
    file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = file.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        yaml.safe_dump(data, fh, sort_keys=False)
    tmp.replace(file)


def current_context(data: dict[str, Any]) -> dict[str, Any] | None:
    name = data.get("current-context") or ""
    for ctx in data.get("contexts") or []:
        if isinstance(ctx, dict) and ctx.get("name") == name:
            return ctx
    return None


@dataclass(frozen=True)
class Conn:
    server: str | None = None
    auth_token: str | None = None
    insecure: bool = False
    plaintext: bool = False
    grpc_web: bool = False
    config: Path | None = None

    def client(self, *, need_auth: bool = True) -> ApiClient:
        data = load_config(self.config)
        ctx = current_context(data)
        server = self.server or (ctx or {}).get("server")
        if not server:
            raise CliError("no server: pass --server, set ARGOCD_SERVER, or run 'argosy login'")
        same = ctx is not None and (self.server is None or ctx.get("server") == self.server)
        token = self.auth_token or ((ctx or {}).get("auth-token") if same else None)
        if need_auth and not token:
            raise CliError("no auth token: pass --auth-token, set ARGOCD_AUTH_TOKEN, or run 'argosy login'")
        plaintext = self.plaintext or bool(same and (ctx or {}).get("plaintext"))
        insecure = self.insecure or bool(same and (ctx or {}).get("insecure"))
        return ApiClient(base_url(server, plaintext), token, insecure=insecure)


def base_url(server: str, plaintext: bool) -> str:
    if server.startswith(("http://", "https://")):
        return server.rstrip("/")
    return f"{'http' if plaintext else 'https'}://{server.rstrip('/')}"


def q(value: str) -> str:
    """Quote a path segment (repository URLs contain slashes)."""
    return quote(value, safe="")


class ApiClient:
    def __init__(
        self, base: str, token: str | None, *, insecure: bool = False, timeout: float = 60.0
    ) -> None:
        headers = {"User-Agent": "argosy-cli", "Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self.base = base
        self._http = httpx.Client(base_url=base, headers=headers, verify=not insecure, timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise CliError(connection_error(self.base, exc)) from exc
        if response.status_code >= 400:
            try:
                body = response.json()
                message = body.get("message") or body.get("error") or response.reason_phrase
            except ValueError:
                message = response.reason_phrase
            raise CliError(f"rpc error: code = {_code_name(response.status_code)} desc = {message}")
        if not response.content:
            return {}
        try:
            return response.json()
        except ValueError as exc:
            raise CliError("the server answered something that is not JSON") from exc

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, body: Any = None, **kwargs: Any) -> Any:
        return self.request("POST", path, json=body if body is not None else {}, **kwargs)

    def put(self, path: str, body: Any, **kwargs: Any) -> Any:
        return self.request("PUT", path, json=body, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Any:
        return self.request("DELETE", path, **kwargs)


def _causes(exc: BaseException) -> list[BaseException]:
    out: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in out:
        out.append(current)
        current = current.__cause__ or current.__context__
    return out


def connection_error(base: str, exc: httpx.HTTPError) -> str:
    """argocd-like text for a failed connection, with the flag that would help."""
    causes = _causes(exc)
    verify = next((c for c in causes if isinstance(c, ssl.SSLCertVerificationError)), None)
    if verify is not None:
        reason = verify.verify_message or "certificate verify failed"
        return (
            f"cannot reach {base}: TLS certificate verification failed: {reason} "
            "(x509: certificate signed by unknown authority?); pass --insecure to skip verification "
            "(e.g. the server's generated self-signed certificate), or trust the server's certificate "
            "(SSL_CERT_FILE)"
        )
    text = " ".join(str(c) for c in causes)
    if base.startswith("https://") and any(
        m in text for m in ("WRONG_VERSION_NUMBER", "record layer failure", "packet length too long")
    ):
        return f"cannot reach {base}: the server does not speak TLS (pass --plaintext for HTTP)"
    # A TLS server that gets plain HTTP drops the connection: the client sees either "disconnected
    # without a response" or a reset, depending on timing.
    if base.startswith("http://") and (
        isinstance(exc, httpx.RemoteProtocolError)
        or (isinstance(exc, httpx.ReadError) and any(isinstance(c, ConnectionResetError) for c in causes))
        or "Connection reset by peer" in text
    ):
        return (
            f"cannot reach {base}: {type(exc).__name__}: {exc} "
            "(does the server serve HTTPS? drop --plaintext)"
        )
    return f"cannot reach {base}: {type(exc).__name__}: {exc}"


def _code_name(status: int) -> str:
    return {
        400: "InvalidArgument",
        401: "Unauthenticated",
        403: "PermissionDenied",
        404: "NotFound",
        409: "AlreadyExists",
        429: "ResourceExhausted",
        503: "Unavailable",
    }.get(status, "Unknown")


class errors:
    """Turn a :class:`CliError` into argocd's message and exit code."""

    def __init__(self, code: int | None = None) -> None:
        self.code = code

    def __enter__(self) -> errors:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        if isinstance(exc, CliError):
            fail(str(exc), self.code if self.code is not None else exc.code)


def conn(  # noqa: PLR0917 - the six global options, in their usual order
    server: str | None,
    auth_token: str | None,
    insecure: bool,
    plaintext: bool,
    grpc_web: bool,
    config: Path | None,
) -> Conn:
    return Conn(server or None, auth_token or None, insecure, plaintext, grpc_web, config)
