"""``argosy login``, ``argosy logout``: sessions stored as contexts in ~/.config/argosy/config.

``argosy login --sso`` is Argo CD's CLI SSO for ``oidc.config``: the CLI reads the provider from
``GET /api/v1/settings`` (``oidcConfig``; client ``cliClientID``, else ``clientID``, as a public client),
serves ``http://127.0.0.1:<--sso-port>/auth/callback`` for one request, opens the browser on the
provider's authorization endpoint (code flow, PKCE S256, state, nonce), exchanges the code itself and
stores the ID token, which the server accepts as a bearer (docs/auth.md).
"""

from __future__ import annotations

import base64
import hashlib
import http.server
import secrets
import threading
import time
import webbrowser
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import typer

from argosy.cli.client import (
    ApiClient,
    CliError,
    ConfigOpt,
    GrpcWebOpt,
    base_url,
    errors,
    load_config,
    save_config,
)
from argosy.cli.groups import app as root

__all__ = ["login", "logout"]


@root.command("login")
def login(
    server: Annotated[str, typer.Argument(help="API server host:port.")],
    *,
    username: Annotated[str, typer.Option("--username", help="Local account or LDAP user name.")] = "",
    password: Annotated[str, typer.Option("--password", envvar="ARGOSY_PASSWORD", help="Password.")] = "",
    name: Annotated[str, typer.Option("--name", help="Context name (default: the server).")] = "",
    insecure: Annotated[bool, typer.Option("--insecure", help="Skip TLS verification.")] = False,
    plaintext: Annotated[bool, typer.Option("--plaintext", help="Use HTTP.")] = False,
    grpc_web: GrpcWebOpt = False,
    config: ConfigOpt = None,
    sso: Annotated[
        bool, typer.Option("--sso", help="Log in through the oidc.config provider (browser).")
    ] = False,
    sso_port: Annotated[int, typer.Option("--sso-port", help="Local port of the SSO callback.")] = 8085,
) -> None:
    """Log in with a local account or an LDAP user (dex.config LDAP connectors), or with --sso through
    the OIDC provider, and save the session as the current context."""
    if sso:
        with errors():
            token, who = _sso_login(base_url(server, plaintext), sso_port, insecure=insecure)
            _store(config, name or server, server, token, insecure=insecure, plaintext=plaintext, user=who)
        print(f"'{who}' logged in successfully")
        print(f"Context '{name or server}' updated")
        return
    if not username:
        username = typer.prompt("Username")
    if not password:
        password = typer.prompt("Password", hide_input=True)
    with errors(), ApiClient(base_url(server, plaintext), None, insecure=insecure) as client:
        token = client.post("/api/v1/session", {"username": username, "password": password}).get("token")
        if not token:
            raise CliError("the server returned no token")
        _store(
            config, name or server, server, str(token), insecure=insecure, plaintext=plaintext, user=username
        )
    print(f"'{username}:login' logged in successfully")
    print(f"Context '{name or server}' updated")


def _pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _await_callback(
    port: int, path: str, timeout: float
) -> tuple[http.server.HTTPServer, dict[str, str], threading.Event]:
    """Serve one request to ``path`` on 127.0.0.1:``port``; its query lands in the returned dict."""
    result: dict[str, str] = {}
    done = threading.Event()

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            if parts.path != path:
                self.send_error(404)
                return
            result.update({k: v[0] for k, v in parse_qs(parts.query).items()})
            body = b"Login finished; you can close this window and return to the terminal.\n"
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            done.set()

    try:
        server = http.server.HTTPServer(("127.0.0.1", port), Handler)
    except OSError as exc:
        raise CliError(f"cannot listen on 127.0.0.1:{port} for the SSO callback ({exc.strerror})") from None
    server.timeout = 1.0  # handle_request polls, so the loop sees "done" and the deadline
    threading.Thread(target=lambda: _serve_until(server, done, timeout), daemon=True).start()
    return server, result, done


def _serve_until(server: http.server.HTTPServer, done: threading.Event, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not done.is_set() and time.monotonic() < deadline:
        server.handle_request()


def _sso_login(base: str, port: int, *, insecure: bool, timeout: float = 300.0) -> tuple[str, str]:
    with ApiClient(base, None, insecure=insecure) as api:
        oidc = api.get("/api/v1/settings").get("oidcConfig") or {}
    issuer = str(oidc.get("issuer") or "").rstrip("/")
    client_id = str(oidc.get("cliClientID") or oidc.get("clientID") or "")
    if not issuer or not client_id:
        raise CliError("the server has no oidc.config: SSO login is not configured")
    scopes = [str(x) for x in oidc.get("scopes") or ["openid", "profile", "email"]]
    try:
        with httpx.Client(timeout=30, verify=not insecure) as idp:
            doc = idp.get(f"{issuer}/.well-known/openid-configuration").json()
            redirect = f"http://127.0.0.1:{port}/auth/callback"
            verifier, challenge = _pkce()
            state, nonce = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
            params = {
                "response_type": "code",
                "client_id": client_id,
                "redirect_uri": redirect,
                "scope": " ".join(scopes),
                "state": state,
                "nonce": nonce,
                "code_challenge": challenge,
                "code_challenge_method": "S256",
            }
            url = f"{doc['authorization_endpoint']}?{urlencode(params)}"
            server, result, done = _await_callback(port, "/auth/callback", timeout)
            try:
                print(f"Opening the browser for SSO login: {url}")
                webbrowser.open(url)
                if not done.wait(timeout):
                    raise CliError("SSO login timed out waiting for the browser")
            finally:
                server.server_close()
            if result.get("error"):
                raise CliError(f"the identity provider refused the login: {result['error']}")
            if not secrets.compare_digest(result.get("state", ""), state):
                raise CliError("SSO login: the callback state does not match")
            answer = idp.post(
                str(doc["token_endpoint"]),
                data={
                    "grant_type": "authorization_code",
                    "code": result.get("code", ""),
                    "redirect_uri": redirect,
                    "client_id": client_id,
                    "code_verifier": verifier,
                },
                headers={"Accept": "application/json"},
            )
            body = answer.json() if answer.content else {}
    except (httpx.HTTPError, ValueError, KeyError) as exc:
        raise CliError(f"SSO login failed talking to {issuer}: {type(exc).__name__}") from None
    token = body.get("id_token") if isinstance(body, dict) else None
    if answer.status_code != 200 or not isinstance(token, str):
        raise CliError(
            f"the identity provider refused the code exchange: {body.get('error', answer.status_code)}"
        )
    # the server decides whether the token is good (signature, issuer, audience, expiry)
    with ApiClient(base, token, insecure=insecure) as api:
        info = api.get("/api/v1/session/userinfo")
    if not info.get("loggedIn"):
        raise CliError("the server does not accept the identity provider's token")
    return token, str(info.get("username") or "")


def _store(
    config: Path | None, name: str, server: str, token: str, *, insecure: bool, plaintext: bool, user: str
) -> None:
    data = load_config(config)
    contexts = [c for c in data["contexts"] if isinstance(c, dict) and c.get("name") != name]
    contexts.append(
        {
            "name": name,
            "server": server,
            "user": user,
            "auth-token": token,
            "insecure": insecure,
            "plaintext": plaintext,
        }
    )
    data["contexts"] = contexts
    data["current-context"] = name
    save_config(data, config)


@root.command("logout")
def logout(
    context: Annotated[str, typer.Argument(help="Context to log out of (default: the current one).")] = "",
    *,
    config: ConfigOpt = None,
) -> None:
    """Revoke the session on the server and forget its token."""
    with errors():
        data = load_config(config)
        name = context or data.get("current-context") or ""
        ctx = next((c for c in data["contexts"] if isinstance(c, dict) and c.get("name") == name), None)
        if ctx is None:
            raise CliError(f"no context named {name!r}")
        token = ctx.pop("auth-token", None)
        if token:
            try:
                with ApiClient(
                    base_url(str(ctx["server"]), bool(ctx.get("plaintext"))),
                    str(token),
                    insecure=bool(ctx.get("insecure")),
                ) as client:
                    client.delete("/api/v1/session")
            except CliError:
                pass  # the token is forgotten locally either way
        save_config(data, config)
    print(f"Logged out from '{name}'")
