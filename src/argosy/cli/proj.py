"""``argosy proj list|get|create``."""

from __future__ import annotations

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

proj_cmd = typer.Typer(help="Manage projects.", no_args_is_help=True)
root.add_typer(proj_cmd, name="proj")


def _dests(p: dict[str, Any]) -> str:
    ds = (p.get("spec") or {}).get("destinations") or []
    return (
        ",".join(f"{d.get('server') or d.get('name', '')},{d.get('namespace', '')}" for d in ds) or "<none>"
    )


@proj_cmd.command("list")
def list_projects(
    *,
    output: OutputOpt = "",
    server: ServerOpt = None,
    auth_token: TokenOpt = None,
    insecure: InsecureOpt = False,
    plaintext: PlaintextOpt = False,
    grpc_web: GrpcWebOpt = False,
    config: ConfigOpt = None,
) -> None:
    """List projects."""
    with errors(), conn(server, auth_token, insecure, plaintext, grpc_web, config).client() as client:
        items = client.get("/api/v1/projects").get("items") or []
    if emit(items, output):
        return
    if output == "name":
        for p in items:
            print(p["metadata"]["name"])
        return
    table(
        ["NAME", "DESCRIPTION", "DESTINATIONS", "SOURCES"],
        [
            [
                p["metadata"]["name"],
                (p.get("spec") or {}).get("description", ""),
                _dests(p),
                ",".join((p.get("spec") or {}).get("sourceRepos") or []) or "<none>",
            ]
            for p in items
        ],
    )


@proj_cmd.command("get")
def get_project(
    name: str,
    *,
    output: OutputOpt = "",
    server: ServerOpt = None,
    auth_token: TokenOpt = None,
    insecure: InsecureOpt = False,
    plaintext: PlaintextOpt = False,
    grpc_web: GrpcWebOpt = False,
    config: ConfigOpt = None,
) -> None:
    """Show a project."""
    with errors(), conn(server, auth_token, insecure, plaintext, grpc_web, config).client() as client:
        p = client.get(f"/api/v1/projects/{q(name)}")
    if emit(p, output):
        return
    spec = p.get("spec") or {}
    print(f"{'Name:':<30}{p['metadata']['name']}")
    print(f"{'Description:':<30}{spec.get('description', '')}")
    print(f"{'Destinations:':<30}{_dests(p)}")
    print(f"{'Repositories:':<30}{','.join(spec.get('sourceRepos') or []) or '<none>'}")
    roles = [r.get("name", "") for r in spec.get("roles") or []]
    print(f"{'Roles:':<30}{','.join(roles) or '<none>'}")


@proj_cmd.command("create")
def create_project(
    name: str,
    *,
    description: Annotated[str, typer.Option("--description")] = "",
    src: Annotated[list[str] | None, typer.Option("--src", "-s", help="Permitted source repository.")] = None,
    dest: Annotated[list[str] | None, typer.Option("--dest", "-d", help="server,namespace")] = None,
    upsert: Annotated[bool, typer.Option("--upsert")] = False,
    server: ServerOpt = None,
    auth_token: TokenOpt = None,
    insecure: InsecureOpt = False,
    plaintext: PlaintextOpt = False,
    grpc_web: GrpcWebOpt = False,
    config: ConfigOpt = None,
) -> None:
    """Create a project."""
    with errors():
        destinations = []
        for d in dest or []:
            srv, sep, ns = d.partition(",")
            if not sep:
                raise CliError(f"invalid --dest {d!r}: use server,namespace")
            destinations.append({"server": srv, "namespace": ns})
        spec: dict[str, Any] = {"sourceRepos": list(src or []), "destinations": destinations}
        if description:
            spec["description"] = description
        body = {"project": {"metadata": {"name": name}, "spec": spec}, "upsert": upsert}
        with conn(server, auth_token, insecure, plaintext, grpc_web, config).client() as client:
            client.post("/api/v1/projects", body)
    print(f"project '{name}' created")
