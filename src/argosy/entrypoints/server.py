# ruff: noqa: PLR0917, B008  (typer reads options from parameter defaults)
"""``argosy controller``, ``argosy server`` and ``argosy install``: run and install Argosy on a cluster."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from pathlib import Path
from typing import Any

import typer
import uvicorn
from rich.console import Console

from argosy import bootstrap
from argosy.cli.groups import app
from argosy.services.leader import LeaseSettings

err = Console(stderr=True, soft_wrap=True)

KubeconfigOption = typer.Option(None, "--kubeconfig", help="Kubeconfig file (default: $KUBECONFIG).")
NamespaceOption = typer.Option(
    "argocd", "--namespace", "-N", help="Namespace of Argosy and its Applications."
)


def _logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def _install_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)


async def _serve_health(port: int, rt: Any) -> asyncio.Server:
    """A minimal HTTP endpoint on 127.0.0.1 (stdlib only): ``/healthz``, ``/readyz`` (``standby``
    while another controller leads) and ``/metrics`` (the controller's Prometheus metrics)."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            line = await asyncio.wait_for(reader.readline(), timeout=5)
            while (await asyncio.wait_for(reader.readline(), timeout=5)) not in (b"\r\n", b"\n", b""):
                pass
            path = line.split(b" ")[1] if len(line.split(b" ")) > 1 else b"/"
            content_type = b"text/plain"
            if path in (b"/healthz", b"/readyz", b"/livez"):
                leader = rt.elector is None or rt.elector.is_leader
                body = b"ok\n" if path != b"/readyz" or leader else b"standby\n"
                status = b"200 OK"
            elif path == b"/metrics" and rt.metrics is not None:
                body, status = rt.metrics.exposition(), b"200 OK"
                content_type = b"text/plain; version=0.0.4; charset=utf-8"
            else:
                body, status = b"not found\n", b"404 Not Found"
            writer.write(
                b"HTTP/1.1 "
                + status
                + b"\r\nContent-Type: "
                + content_type
                + b"\r\nContent-Length: "
                + str(len(body)).encode()
                + b"\r\nConnection: close\r\n\r\n"
                + body
            )
            await writer.drain()
        except (TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()

    return await asyncio.start_server(handle, "127.0.0.1", port)


async def _run(
    *,
    kubeconfig: str | None,
    namespace: str,
    workers: int,
    leader_election: bool,
    lease: LeaseSettings,
    health_port: int | None,
    state_dir: Path | None,
    api_port: int | None = None,
) -> None:
    stop = asyncio.Event()
    _install_signals(stop)
    async with bootstrap.runtime(
        kubeconfig=kubeconfig,
        namespace=namespace,
        workers=workers,
        leader_election=leader_election,
        lease=lease,
        state_dir=state_dir,
        progress=lambda m: err.print(m, markup=False),
    ) as rt:
        server = await _serve_health(health_port, rt) if health_port is not None else None
        api: uvicorn.Server | None = None
        api_task: asyncio.Task[None] | None = None
        if api_port is not None:
            app_ = bootstrap.api_app(rt, namespace=namespace, state_dir=state_dir, secure_cookies=False)
            api = uvicorn.Server(uvicorn.Config(app_, host="127.0.0.1", port=api_port, log_level="warning"))
            api_task = asyncio.create_task(api.serve())
            err.print(f"API and web UI on http://127.0.0.1:{api_port}/", markup=False)
        task = asyncio.create_task(bootstrap.run_controller(rt))
        stopper = asyncio.create_task(stop.wait())
        await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
        rt.stop()
        stopper.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, timeout=15)
        if api is not None and api_task is not None:
            api.should_exit = True
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(api_task, timeout=10)
        if server is not None:
            server.close()
            await server.wait_closed()


def _lease(
    namespace: str, duration: float, renew: float, retry: float, identity: str | None
) -> LeaseSettings:
    base = LeaseSettings(
        namespace=namespace, lease_duration=duration, renew_deadline=renew, retry_period=retry
    )
    if identity:
        base = LeaseSettings(
            namespace=namespace,
            lease_duration=duration,
            renew_deadline=renew,
            retry_period=retry,
            identity=identity,
        )
    return base


@app.command("controller")
def controller(
    kubeconfig: str | None = KubeconfigOption,
    namespace: str = NamespaceOption,
    workers: int = typer.Option(10, "--workers", help="Applications reconciled in parallel."),
    leader_election: bool = typer.Option(True, "--leader-election/--no-leader-election"),
    lease_duration: float = typer.Option(15.0, "--lease-duration", help="Seconds."),
    renew_deadline: float = typer.Option(10.0, "--renew-deadline", help="Seconds."),
    retry_period: float = typer.Option(2.0, "--retry-period", help="Seconds."),
    identity: str | None = typer.Option(None, "--identity", help="Leader-election identity."),
    state_dir: Path | None = typer.Option(None, "--state-dir", help="Default ~/.local/state/argosy."),
    metrics_port: int | None = typer.Option(
        None, "--metrics-port", help="Serve /metrics, /healthz and /readyz on 127.0.0.1 (Argo CD uses 8082)."
    ),
    verbose: bool = typer.Option(False, "--verbose", "-v"),
) -> None:
    """Run the Application controller (reconciles while it holds the argosy-controller Lease)."""
    _logging(verbose)
    asyncio.run(
        _run(
            kubeconfig=kubeconfig,
            namespace=namespace,
            workers=workers,
            leader_election=leader_election,
            lease=_lease(namespace, lease_duration, renew_deadline, retry_period, identity),
            health_port=metrics_port,
            state_dir=state_dir,
        )
    )


@app.command("server")
def server(
    kubeconfig: str | None = KubeconfigOption,
    namespace: str = NamespaceOption,
    port: int = typer.Option(8080, "--port", help="Port of the API and web UI (127.0.0.1)."),
    workers: int = typer.Option(10, "--workers"),
    leader_election: bool = typer.Option(True, "--leader-election/--no-leader-election"),
    state_dir: Path | None = typer.Option(None, "--state-dir"),
    verbose: bool = typer.Option(False, "--verbose", "-v"),
) -> None:
    """Run the controller, the REST API (/api/v1, /healthz, /readyz) and the web UI in one process."""
    _logging(verbose)
    asyncio.run(
        _run(
            kubeconfig=kubeconfig,
            namespace=namespace,
            workers=workers,
            leader_election=leader_election,
            lease=_lease(namespace, 15.0, 10.0, 2.0, None),
            health_port=None,
            state_dir=state_dir,
            api_port=port,
        )
    )


@app.command("install")
def install(kubeconfig: str | None = KubeconfigOption, namespace: str = NamespaceOption) -> None:
    """Install the Application and AppProject CRDs and the namespace."""

    async def go() -> None:
        await bootstrap.install_cluster(kubeconfig, namespace)

    asyncio.run(go())
    err.print(f"Installed the CRDs and namespace {namespace}.")
