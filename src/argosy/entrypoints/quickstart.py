# ruff: noqa: PLR0917, B008  (typer reads options from parameter defaults)
"""``argosy quickstart``: the embedded default. Starts the local control plane, serves the example
platform from a local ``git daemon``, installs Argosy's CRDs, configuration, projects and
applications, runs the controller in-process and shows the applications converge."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
import time
from pathlib import Path

import typer
import uvicorn
from rich.console import Console
from rich.table import Table

from argosy import bootstrap
from argosy.adapters import tls
from argosy.adapters.localcluster import plane, toolchain
from argosy.cli.groups import app
from argosy.entrypoints import server as _server  # also registers controller/server/install

err = Console(stderr=True, soft_wrap=True)
out = Console(soft_wrap=True)
if not out.is_terminal:
    out = Console(soft_wrap=True, width=160)

DEFAULT_PLATFORM = Path(__file__).resolve().parents[3] / "examples" / "sophia-platform"


def _table(rows: list[dict[str, str]]) -> Table:
    table = Table(title="Argosy applications")
    for column in ("application", "project", "environment", "sync status", "health", "revision"):
        table.add_column(column, no_wrap=True)
    for r in rows:
        sync_style = "green" if r["sync"] == "Synced" else "yellow"
        health_style = "green" if r["health"] == "Healthy" else "yellow"
        table.add_row(
            r["application"],
            r["project"],
            r["environment"],
            f"[{sync_style}]{r['sync']}[/]",
            f"[{health_style}]{r['health']}[/]",
            r["revision"],
        )
    return table


def _converged(rows: list[dict[str, str]], expected: int) -> bool:
    return len(rows) >= expected and all(r["sync"] == "Synced" and r["health"] == "Healthy" for r in rows)


async def _session(
    *,
    kubeconfig: str,
    namespace: str,
    platform: Path,
    repo_url: str,
    timeout: float,
    exit_when_converged: bool,
    state_dir: Path | None,
    port: int = -1,
    insecure: bool = False,
) -> bool:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    err.print("Installing the CRDs, configuration, projects and applications", highlight=False)
    names = await bootstrap.apply_platform(kubeconfig, platform, repo_url, namespace)
    converged = False
    async with bootstrap.runtime(
        kubeconfig=kubeconfig,
        namespace=namespace,
        state_dir=state_dir,
        progress=lambda m: err.print(m, markup=False),
    ) as rt:
        task = asyncio.create_task(bootstrap.run_controller(rt))
        api: uvicorn.Server | None = None
        api_task: asyncio.Task[None] | None = None
        if port >= 0:
            chosen = _free_port(port)
            try:
                cert = await _server.api_tls(
                    rt,
                    namespace,
                    insecure=insecure,
                    cert_file=None,
                    key_file=None,
                    state_dir=state_dir,
                    host="127.0.0.1",
                )
                app_ = bootstrap.api_app(
                    rt, namespace=namespace, state_dir=state_dir, secure_cookies=cert is not None
                )
                config = _server.uvicorn_config(app_, host="127.0.0.1", port=chosen, cert=cert)
            except tls.TlsError as exc:
                err.print(f"error: {exc}", markup=False)
                raise SystemExit(1) from exc
            api = uvicorn.Server(config)
            api_task = asyncio.create_task(api.serve())
            scheme = "https" if cert is not None else "http"
            err.print(
                f"Web UI and API: {scheme}://127.0.0.1:{chosen}/  (user admin; password: "
                f"kubectl --kubeconfig {kubeconfig} -n {namespace} get secret argocd-initial-admin-secret "
                "-o jsonpath='{.data.password}' | base64 -d)",
                markup=False,
                highlight=False,
            )
            err.print(_server.describe_tls(cert), markup=False, highlight=False)
            login = f"argosy login 127.0.0.1:{chosen} --username admin"
            err.print(
                f"CLI: {login} --insecure  (self-signed: the browser asks once to accept it)"
                if cert is not None
                else f"CLI: {login} --plaintext",
                markup=False,
                highlight=False,
            )
        started = time.monotonic()
        last = ""
        rows: list[dict[str, str]] = []
        err.print(f"Controller running; waiting for {len(names)} applications (timeout {timeout:.0f}s)")
        while not stop.is_set() and time.monotonic() - started < timeout:
            rows = bootstrap.application_rows(await bootstrap.list_applications(rt.kube, namespace))
            synced = sum(r["sync"] == "Synced" for r in rows)
            healthy = sum(r["health"] == "Healthy" for r in rows)
            line = f"{synced}/{len(names)} Synced, {healthy}/{len(names)} Healthy"
            if line != last:
                err.print(f"  [{time.monotonic() - started:5.1f}s] {line}", highlight=False)
                last = line
            if _converged(rows, len(names)):
                converged = True
                break
            if task.done():
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=1.0)
        out.print(_table(rows))
        if converged:
            err.print(f"Converged in {time.monotonic() - started:.1f}s.")
        elif not stop.is_set():
            err.print(f"[red]Not converged after {timeout:.0f}s[/red]; see the table above.")
        if not exit_when_converged and not stop.is_set():
            err.print("Argosy keeps reconciling. Press Ctrl-C to stop.")
            with contextlib.suppress(asyncio.CancelledError):
                await stop.wait()
        rt.stop()
        with contextlib.suppress(asyncio.CancelledError, TimeoutError):
            await asyncio.wait_for(task, timeout=15)
        if api is not None and api_task is not None:
            api.should_exit = True
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(api_task, timeout=10)
    return converged


def _free_port(preferred: int) -> int:
    """``preferred`` when it is free on 127.0.0.1 (0: any free port), else any free port."""
    for candidate in (preferred, 0):
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(("127.0.0.1", candidate))
            except OSError:
                continue
            return int(probe.getsockname()[1])
    raise RuntimeError("no free port on 127.0.0.1")


@app.command("quickstart")
def quickstart(
    name: str = typer.Option("default", "--name", "-n", help="Local cluster name."),
    namespace: str = typer.Option("argocd", "--namespace", "-N"),
    platform: Path = typer.Option(DEFAULT_PLATFORM, "--platform", help="The GitOps repository to serve."),
    timeout: float = typer.Option(600.0, "--timeout", help="Seconds to wait for convergence."),
    exit_when_converged: bool = typer.Option(
        False, "--exit-when-converged", help="Exit (0 when converged, 1 otherwise) instead of running on."
    ),
    state_dir: Path | None = typer.Option(None, "--state-dir", help="Default ~/.local/state/argosy."),
    port: int = typer.Option(
        8080, "--port", help="Port of the web UI and API on 127.0.0.1 (another free one if taken; -1: none)."
    ),
    insecure: bool = typer.Option(
        False,
        "--insecure",
        help="Serve the web UI and API over plain HTTP (default: HTTPS with a self-signed certificate).",
    ),
    verbose: bool = typer.Option(False, "--verbose", "-v"),
) -> None:
    """Run Argosy on the example platform: local cluster, local Git server, controller, until Ctrl-C."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not (platform / "argocd" / "applications").is_dir():
        err.print(f"error: {platform} is not a GitOps repository with argocd/applications")
        raise typer.Exit(2)
    tools = toolchain.ensure_toolchain(lambda m: err.print(m, markup=False))
    state = plane.up(name, tools, progress=lambda m: err.print(m, markup=False))
    state_root = state_dir or bootstrap.default_state_dir()
    git_base = state_root / "quickstart" / "git"
    git_base.mkdir(parents=True, exist_ok=True)
    sha = bootstrap.publish_directory(platform, git_base)
    daemon = bootstrap.GitDaemon(git_base).start()
    repo_url = f"{daemon.url}/sophia-platform.git"
    err.print(f"Serving {platform} at {repo_url} (main = {sha[:7]})", highlight=False)
    try:
        converged = asyncio.run(
            _session(
                kubeconfig=str(state.kubeconfig),
                namespace=namespace,
                platform=platform,
                repo_url=repo_url,
                timeout=timeout,
                exit_when_converged=exit_when_converged,
                state_dir=state_dir,
                port=port,
                insecure=insecure,
            )
        )
    finally:
        daemon.stop()
    err.print(f"The cluster keeps running: export KUBECONFIG={state.kubeconfig}", markup=False)
    err.print(f"Stop it with: argosy cluster down --name {name}", markup=False)
    if exit_when_converged and not converged:
        raise typer.Exit(1)
