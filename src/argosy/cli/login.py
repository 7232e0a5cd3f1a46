"""``argosy login``, ``argosy logout``: sessions stored as contexts in ~/.config/argosy/config."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

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
) -> None:
    """Log in with a local account or an LDAP user (dex.config LDAP connectors) and save the session as
    the current context."""
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
