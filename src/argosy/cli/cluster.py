"""``argosy cluster``: local control planes for development and tests (``build|up|down|status|
kubeconfig``) and argocd's verbs on the API server's destination clusters (``add|get|list|rm``).

``cluster add`` installs the manager identity in the target cluster straight from the kubeconfig
(``argosy.cli.clusterauth``), then registers its token with the API server; no answer of the server
contains a credential.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from argosy.adapters.localcluster import plane, toolchain
from argosy.cli import clusterauth
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
from argosy.cli.groups import cluster
from argosy.cli.output import OutputOpt, emit, table

err = Console(stderr=True, soft_wrap=True)
NameOption = typer.Option("default", "--name", "-n", help="Cluster name; several can run at once.")


def _progress(message: str) -> None:
    err.print(message, highlight=False, markup=False)


@cluster.command("build")
def build() -> None:
    """Build (or find in the cache) the control-plane binaries; about 7 minutes the first time."""
    try:
        tools = toolchain.ensure_toolchain(_progress)
    except toolchain.BuildError as exc:
        err.print(f"error: {exc}", markup=False)
        raise typer.Exit(20) from exc
    print(tools.bin_dir)


@cluster.command("up")
def up(
    name: str = NameOption,
    port: int | None = typer.Option(None, "--port", help="kube-apiserver port (default: a free one)."),
) -> None:
    """Start a cluster on 127.0.0.1 and wait until its node is Ready."""
    started = time.monotonic()
    try:
        tools = toolchain.ensure_toolchain(_progress)
        state = plane.up(name, tools, progress=_progress, apiserver_port=port)
    except (toolchain.BuildError, plane.ClusterError) as exc:
        err.print(f"error: {exc}", markup=False)
        raise typer.Exit(20) from exc
    err.print(f"Ready in {time.monotonic() - started:.1f}s. Use it with:", highlight=False)
    err.print(f"  export KUBECONFIG={state.kubeconfig}", highlight=False, markup=False)
    err.print(f"  export PATH={tools.bin_dir}:$PATH   # kubectl {tools.kubernetes_version}", markup=False)
    print(state.kubeconfig)


@cluster.command("down")
def down(name: str = NameOption) -> None:
    """Stop every process the cluster started and remove its state."""
    if not plane.down(name, progress=_progress):
        err.print(f"No cluster named {name!r}.")


@cluster.command("status")
def status(
    name: str = NameOption, output: str = typer.Option("text", "-o", "--output", help="text or json")
) -> None:
    """Show which components run and whether the apiserver is ready."""
    info = plane.status(name)
    if output == "json":
        print(json.dumps(info, indent=2))
    elif not info["exists"]:
        print(f"{name}: not running")
    else:
        comps = ", ".join(f"{c}={'up' if ok else 'down'}" for c, ok in info["components"].items())
        print(f"{name}: {'Ready' if info['ready'] else 'NotReady'} at {info['server']} ({comps})")
    if not info["ready"]:
        raise typer.Exit(1)


@cluster.command("kubeconfig")
def kubeconfig(name: str = NameOption) -> None:
    """Print the path of the cluster's admin kubeconfig."""
    state = plane.load_state(name)
    if state is None:
        err.print(f"No cluster named {name!r}; start it with: argosy cluster up --name {name}")
        raise typer.Exit(1)
    print(state.kubeconfig)


# -- argocd's cluster verbs: clusters the API server deploys to (cluster Secrets) ------------------

MANAGER_ANNOTATION = "argosy.io/manager-service-account"
"""``<namespace>/<name>[/<ns1,ns2>]`` of the ServiceAccount ``cluster add`` installed (``rm`` removes it)."""


def _say(message: str) -> None:
    err.print(f"INFO[0000] {message}", highlight=False, markup=False)


def _cluster_path(selector: str) -> tuple[str, dict[str, str]]:
    """argocd's ``getQueryBySelector``: a URL selects by server, anything else by name."""
    if "://" in selector:
        return f"/api/v1/clusters/{q(selector)}", {}
    return f"/api/v1/clusters/{q(selector)}", {"id.type": "name"}


@cluster.command("add")
def cluster_add(
    context: Annotated[str, typer.Argument(help="kubeconfig context of the cluster to add.")],
    *,
    kubeconfig: Annotated[Path | None, typer.Option("--kubeconfig", help="Default: $KUBECONFIG.")] = None,
    name: Annotated[str, typer.Option("--name", help="Cluster name (default: the context name).")] = "",
    namespace: Annotated[
        list[str] | None, typer.Option("--namespace", help="Manage only these namespaces (repeatable).")
    ] = None,
    cluster_resources: Annotated[
        bool, typer.Option("--cluster-resources", help="Cluster-scoped objects too, in namespaced mode.")
    ] = False,
    project: Annotated[str, typer.Option("--project", help="Project-scoped cluster.")] = "",
    label: Annotated[list[str] | None, typer.Option("--label", help="K=V (repeatable).")] = None,
    annotation: Annotated[list[str] | None, typer.Option("--annotation", help="K=V (repeatable).")] = None,
    upsert: Annotated[bool, typer.Option("--upsert", help="Override an existing cluster's spec.")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask.")] = False,
    service_account: Annotated[
        str, typer.Option("--service-account", help="ServiceAccount to create and use.")
    ] = "argocd-manager",
    system_namespace: Annotated[
        str, typer.Option("--system-namespace", help="Namespace of the ServiceAccount.")
    ] = "kube-system",
    server: ServerOpt = None,
    auth_token: TokenOpt = None,
    insecure: InsecureOpt = False,
    plaintext: PlaintextOpt = False,
    grpc_web: GrpcWebOpt = False,
    config: ConfigOpt = None,
) -> None:
    """Add a cluster as argocd does: install a manager ServiceAccount in it, then register its token."""
    namespaces = tuple(namespace or ())
    with errors():
        labels, annotations = _pairs(label, "--label"), _pairs(annotation, "--annotation")
        try:
            target = clusterauth.read_target(kubeconfig, context)
        except clusterauth.ClusterAuthError as exc:
            raise CliError(str(exc)) from exc
        scope = (
            "full cluster level privileges" if not namespaces else f"privileges in {', '.join(namespaces)}"
        )
        if (
            not yes
            and sys.stdin.isatty()
            and not typer.confirm(
                f"WARNING: This will create a service account `{service_account}` on the cluster "
                f"referenced by context `{context}` with {scope}. Do you want to continue",
                default=False,
            )
        ):
            raise CliError("aborted", 1)
        api = conn(server, auth_token, insecure, plaintext, grpc_web, config)
        # Unlike argocd, ask the server first: a caller who may not add the cluster changes nothing in it.
        obj = f"{project}/{target.server}" if project else target.server
        with api.client() as client:
            if client.get(f"/api/v1/account/can-i/clusters/create/{q(obj)}").get("value") != "yes":
                raise CliError("rpc error: code = PermissionDenied desc = permission denied")
        manager = clusterauth.Manager(service_account, system_namespace, namespaces)
        try:
            token = clusterauth.install(target, manager, _say)
        except clusterauth.ClusterAuthError as exc:
            raise CliError(str(exc)) from exc
        tls: dict[str, Any] = {"insecure": target.insecure}
        if target.ca_data and not target.insecure:
            tls["caData"] = target.ca_data
        if target.server_name:
            tls["serverName"] = target.server_name
        marker = f"{system_namespace}/{service_account}" + (f"/{','.join(namespaces)}" if namespaces else "")
        body = {
            "server": target.server,
            "name": name or context,
            "config": {"bearerToken": token, "tlsClientConfig": tls},
            "namespaces": list(namespaces),
            "clusterResources": cluster_resources,
            "project": project,
            "labels": labels,
            "annotations": {**annotations, MANAGER_ANNOTATION: marker},
        }
        with api.client() as client:
            client.post("/api/v1/clusters", body, params={"upsert": "true"} if upsert else {})
    print(f"Cluster '{target.server}' added")


def _pairs(values: list[str] | None, flag: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for value in values or ():
        key, sep, val = value.partition("=")
        if not sep or not key:
            raise CliError(f"{flag} expects KEY=VALUE, got {value!r}")
        out[key] = val
    return out


@cluster.command("get")
def cluster_get(
    selector: Annotated[str, typer.Argument(metavar="SERVER|NAME")],
    *,
    output: Annotated[str, typer.Option("--output", "-o", help="json|yaml (default yaml).")] = "yaml",
    server: ServerOpt = None,
    auth_token: TokenOpt = None,
    insecure: InsecureOpt = False,
    plaintext: PlaintextOpt = False,
    grpc_web: GrpcWebOpt = False,
    config: ConfigOpt = None,
) -> None:
    """Show a cluster (never its credentials)."""
    path, params = _cluster_path(selector)
    with errors(), conn(server, auth_token, insecure, plaintext, grpc_web, config).client() as client:
        found = client.get(path, params=params)
    emit(found, output if output in {"json", "yaml"} else "yaml")


@cluster.command("list")
def cluster_list(
    *,
    output: OutputOpt = "",
    server: ServerOpt = None,
    auth_token: TokenOpt = None,
    insecure: InsecureOpt = False,
    plaintext: PlaintextOpt = False,
    grpc_web: GrpcWebOpt = False,
    config: ConfigOpt = None,
) -> None:
    """List the clusters the API server knows (argocd cluster list)."""
    with errors(), conn(server, auth_token, insecure, plaintext, grpc_web, config).client() as client:
        items = client.get("/api/v1/clusters").get("items") or []
    if emit(items, output):
        return
    table(
        ["SERVER", "NAME", "PROJECT"], [[c["server"], c.get("name", ""), c.get("project", "")] for c in items]
    )


@cluster.command("rm")
def cluster_rm(
    selector: Annotated[str, typer.Argument(metavar="SERVER|NAME")],
    *,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask.")] = False,
    kubeconfig: Annotated[Path | None, typer.Option("--kubeconfig", help="Default: $KUBECONFIG.")] = None,
    server: ServerOpt = None,
    auth_token: TokenOpt = None,
    insecure: InsecureOpt = False,
    plaintext: PlaintextOpt = False,
    grpc_web: GrpcWebOpt = False,
    config: ConfigOpt = None,
) -> None:
    """Remove a cluster; its manager ServiceAccount too when the kubeconfig has a context of its name."""
    path, params = _cluster_path(selector)
    with errors(), conn(server, auth_token, insecure, plaintext, grpc_web, config).client() as client:
        if (
            not yes
            and sys.stdin.isatty()
            and not typer.confirm(
                f"Are you sure you want to remove '{selector}'? Any Apps deploying to this cluster will go "
                "to health status Unknown."
            )
        ):
            raise CliError("aborted", 1)
        try:
            found: dict[str, Any] = client.get(path, params=params)
        except CliError:
            found = {}
        client.delete(path, params=params)
    _remove_manager(found, kubeconfig)
    print(f"Cluster '{selector}' removed")


def _remove_manager(found: dict[str, Any], kubeconfig: Path | None) -> None:
    """Like argocd: remove the manager's RBAC when the kubeconfig can reach the cluster (best effort)."""
    marker = str((found.get("annotations") or {}).get(MANAGER_ANNOTATION) or "")
    parts = marker.split("/")
    if len(parts) < 2 or not found.get("name"):
        return
    try:
        target = clusterauth.read_target(kubeconfig, str(found["name"]))
    except clusterauth.ClusterAuthError:
        return  # no context of that name: nothing to clean up from here
    if target.server != found.get("server"):
        return
    namespaces = tuple(n for n in (parts[2].split(",") if len(parts) > 2 else []) if n)
    manager = clusterauth.Manager(parts[1], parts[0], namespaces)
    try:
        failures = clusterauth.uninstall(target, manager, _say)
    except clusterauth.ClusterAuthError as exc:
        failures = [str(exc)]
    for failure in failures:
        err.print(f"WARN[0000] could not remove {failure}", highlight=False, markup=False)
