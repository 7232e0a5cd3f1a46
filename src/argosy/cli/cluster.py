"""``argosy cluster up|down|status|kubeconfig|build``: local control planes for development and tests."""

from __future__ import annotations

import json
import time

import typer
from rich.console import Console

from argosy.adapters.localcluster import plane, toolchain
from argosy.cli.groups import cluster

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
