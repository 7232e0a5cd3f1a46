"""``argosy account list|generate-token|update-password|can-i``."""

from __future__ import annotations

from typing import Annotated

import typer

from argosy.cli.client import (
    ConfigOpt,
    GrpcWebOpt,
    InsecureOpt,
    PlaintextOpt,
    ServerOpt,
    TokenOpt,
    conn,
    errors,
    q,
)
from argosy.cli.groups import app as root
from argosy.cli.output import OutputOpt, emit, table

account_cmd = typer.Typer(help="Manage local accounts.", no_args_is_help=True)
root.add_typer(account_cmd, name="account")


@account_cmd.command("list")
def account_list(
    *,
    output: OutputOpt = "",
    server: ServerOpt = None,
    auth_token: TokenOpt = None,
    insecure: InsecureOpt = False,
    plaintext: PlaintextOpt = False,
    grpc_web: GrpcWebOpt = False,
    config: ConfigOpt = None,
) -> None:
    """List accounts."""
    with errors(), conn(server, auth_token, insecure, plaintext, grpc_web, config).client() as client:
        items = client.get("/api/v1/account").get("items") or []
    if emit(items, output):
        return
    table(
        ["NAME", "ENABLED", "CAPABILITIES"],
        [
            [a["name"], str(a.get("enabled", True)).lower(), ", ".join(a.get("capabilities") or [])]
            for a in items
        ],
    )


@account_cmd.command("generate-token")
def generate_token(
    *,
    account: Annotated[str, typer.Option("--account", "-a", help="Account (default: the caller).")] = "",
    expires_in: Annotated[int, typer.Option("--expires-in", "-e", help="Seconds; 0 never expires.")] = 0,
    token_id: Annotated[str, typer.Option("--id", help="Token id.")] = "",
    server: ServerOpt = None,
    auth_token: TokenOpt = None,
    insecure: InsecureOpt = False,
    plaintext: PlaintextOpt = False,
    grpc_web: GrpcWebOpt = False,
    config: ConfigOpt = None,
) -> None:
    """Generate an API token for an account with the apiKey capability; prints the token."""
    with errors(), conn(server, auth_token, insecure, plaintext, grpc_web, config).client() as client:
        name = account or client.get("/api/v1/session/userinfo").get("username") or ""
        result = client.post(
            f"/api/v1/account/{q(name)}/token", {"name": name, "expiresIn": expires_in, "id": token_id}
        )
    print(result["token"])


@account_cmd.command("delete-token")
def delete_token(
    token_id: str,
    *,
    account: Annotated[str, typer.Option("--account", "-a")] = "",
    server: ServerOpt = None,
    auth_token: TokenOpt = None,
    insecure: InsecureOpt = False,
    plaintext: PlaintextOpt = False,
    grpc_web: GrpcWebOpt = False,
    config: ConfigOpt = None,
) -> None:
    """Revoke an API token by id."""
    with errors(), conn(server, auth_token, insecure, plaintext, grpc_web, config).client() as client:
        name = account or client.get("/api/v1/session/userinfo").get("username") or ""
        client.delete(f"/api/v1/account/{q(name)}/token/{q(token_id)}")


@account_cmd.command("update-password")
def update_password(
    *,
    account: Annotated[str, typer.Option("--account", help="Account (default: the caller).")] = "",
    current_password: Annotated[str, typer.Option("--current-password", help="Your current password.")] = "",
    new_password: Annotated[str, typer.Option("--new-password", help="The new password.")] = "",
    server: ServerOpt = None,
    auth_token: TokenOpt = None,
    insecure: InsecureOpt = False,
    plaintext: PlaintextOpt = False,
    grpc_web: GrpcWebOpt = False,
    config: ConfigOpt = None,
) -> None:
    """Change a password (yours, or another account's with accounts/update)."""
    if not current_password:
        current_password = typer.prompt("*** Enter password of currently logged in user", hide_input=True)
    if not new_password:
        new_password = typer.prompt("*** Enter new password", hide_input=True, confirmation_prompt=True)
    with errors(), conn(server, auth_token, insecure, plaintext, grpc_web, config).client() as client:
        client.put(
            "/api/v1/account/password",
            {"name": account, "currentPassword": current_password, "newPassword": new_password},
        )
    print("Password updated")


@account_cmd.command("can-i")
def can_i(
    action: str,
    resource: str,
    subresource: Annotated[str, typer.Argument()] = "*",
    *,
    server: ServerOpt = None,
    auth_token: TokenOpt = None,
    insecure: InsecureOpt = False,
    plaintext: PlaintextOpt = False,
    grpc_web: GrpcWebOpt = False,
    config: ConfigOpt = None,
) -> None:
    """Print yes or no: can the caller do ACTION on RESOURCE [SUBRESOURCE]?"""
    with errors(), conn(server, auth_token, insecure, plaintext, grpc_web, config).client() as client:
        answer = client.get(f"/api/v1/account/can-i/{q(resource)}/{q(action)}/{subresource}")
    print(answer.get("value", "no"))
