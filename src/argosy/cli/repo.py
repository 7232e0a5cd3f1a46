"""``argosy repo add|list|rm`` and ``argosy repocreds add|list|rm`` (``argosy cluster ...``: cli/cluster.py).

Credentials go to the server only; nothing the server answers contains them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from argosy.cli.client import (
    CliError,
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

repo_cmd = typer.Typer(help="Manage repository connections.", no_args_is_help=True)
repocreds_cmd = typer.Typer(help="Manage repository credential templates.", no_args_is_help=True)
root.add_typer(repo_cmd, name="repo")
root.add_typer(repocreds_cmd, name="repocreds")


def _read_key(path: Path | None) -> str:
    if path is None:
        return ""
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror}") from exc


@repo_cmd.command("add")
def repo_add(
    url: str,
    *,
    username: Annotated[str, typer.Option("--username")] = "",
    password: Annotated[str, typer.Option("--password", envvar="ARGOSY_REPO_PASSWORD")] = "",
    ssh_private_key_path: Annotated[Path | None, typer.Option("--ssh-private-key-path")] = None,
    repo_type: Annotated[str, typer.Option("--type", help="git|helm")] = "git",
    name: Annotated[str, typer.Option("--name")] = "",
    project: Annotated[str, typer.Option("--project")] = "",
    insecure_skip: Annotated[bool, typer.Option("--insecure-skip-server-verification")] = False,
    enable_lfs: Annotated[bool, typer.Option("--enable-lfs")] = False,
    upsert: Annotated[bool, typer.Option("--upsert")] = False,
    server: ServerOpt = None,
    auth_token: TokenOpt = None,
    insecure: InsecureOpt = False,
    plaintext: PlaintextOpt = False,
    grpc_web: GrpcWebOpt = False,
    config: ConfigOpt = None,
) -> None:
    """Add a repository connection."""
    with errors():
        body: dict[str, Any] = {
            "repo": url,
            "type": repo_type,
            "name": name,
            "project": project,
            "username": username,
            "password": password,
            "sshPrivateKey": _read_key(ssh_private_key_path),
            "insecure": insecure_skip,
            "enableLfs": enable_lfs,
        }
        with conn(server, auth_token, insecure, plaintext, grpc_web, config).client() as client:
            client.post("/api/v1/repositories", body, params={"upsert": "true"} if upsert else {})
    print(f"Repository '{url}' added")


@repo_cmd.command("list")
def repo_list(
    *,
    output: OutputOpt = "",
    server: ServerOpt = None,
    auth_token: TokenOpt = None,
    insecure: InsecureOpt = False,
    plaintext: PlaintextOpt = False,
    grpc_web: GrpcWebOpt = False,
    config: ConfigOpt = None,
) -> None:
    """List repositories."""
    with errors(), conn(server, auth_token, insecure, plaintext, grpc_web, config).client() as client:
        items = client.get("/api/v1/repositories").get("items") or []
    if emit(items, output):
        return
    table(
        ["TYPE", "NAME", "REPO", "INSECURE", "LFS", "CREDS", "PROJECT"],
        [
            [
                r.get("type", "git"),
                r.get("name", ""),
                r["repo"],
                str(bool(r.get("insecure"))).lower(),
                str(bool(r.get("enableLfs"))).lower(),
                str(bool(r.get("hasCredentials"))).lower(),
                r.get("project", ""),
            ]
            for r in items
        ],
    )


@repo_cmd.command("rm")
def repo_rm(
    url: str,
    *,
    server: ServerOpt = None,
    auth_token: TokenOpt = None,
    insecure: InsecureOpt = False,
    plaintext: PlaintextOpt = False,
    grpc_web: GrpcWebOpt = False,
    config: ConfigOpt = None,
) -> None:
    """Remove a repository."""
    with errors(), conn(server, auth_token, insecure, plaintext, grpc_web, config).client() as client:
        client.delete(f"/api/v1/repositories/{q(url)}")
    print(f"Repository '{url}' removed")


@repocreds_cmd.command("add")
def repocreds_add(
    url: str,
    *,
    username: Annotated[str, typer.Option("--username")] = "",
    password: Annotated[str, typer.Option("--password", envvar="ARGOSY_REPO_PASSWORD")] = "",
    ssh_private_key_path: Annotated[Path | None, typer.Option("--ssh-private-key-path")] = None,
    upsert: Annotated[bool, typer.Option("--upsert")] = False,
    server: ServerOpt = None,
    auth_token: TokenOpt = None,
    insecure: InsecureOpt = False,
    plaintext: PlaintextOpt = False,
    grpc_web: GrpcWebOpt = False,
    config: ConfigOpt = None,
) -> None:
    """Add a credential template for every repository under URL."""
    with errors():
        body = {
            "url": url,
            "username": username,
            "password": password,
            "sshPrivateKey": _read_key(ssh_private_key_path),
        }
        with conn(server, auth_token, insecure, plaintext, grpc_web, config).client() as client:
            client.post("/api/v1/repocreds", body, params={"upsert": "true"} if upsert else {})
    print(f"Repository credentials for '{url}' added")


@repocreds_cmd.command("list")
def repocreds_list(
    *,
    output: OutputOpt = "",
    server: ServerOpt = None,
    auth_token: TokenOpt = None,
    insecure: InsecureOpt = False,
    plaintext: PlaintextOpt = False,
    grpc_web: GrpcWebOpt = False,
    config: ConfigOpt = None,
) -> None:
    """List credential templates."""
    with errors(), conn(server, auth_token, insecure, plaintext, grpc_web, config).client() as client:
        items = client.get("/api/v1/repocreds").get("items") or []
    if emit(items, output):
        return
    table(
        ["URL PATTERN", "USERNAME", "SSH_CREDS", "TLS_CREDS"],
        [[r["url"], r.get("username", "-"), "-", "-"] for r in items],
    )


@repocreds_cmd.command("rm")
def repocreds_rm(
    url: str,
    *,
    server: ServerOpt = None,
    auth_token: TokenOpt = None,
    insecure: InsecureOpt = False,
    plaintext: PlaintextOpt = False,
    grpc_web: GrpcWebOpt = False,
    config: ConfigOpt = None,
) -> None:
    """Remove a credential template."""
    with errors(), conn(server, auth_token, insecure, plaintext, grpc_web, config).client() as client:
        client.delete(f"/api/v1/repocreds/{q(url)}")
    print(f"Repository credentials for '{url}' removed")
