# ruff: noqa: PLR0917, B008  (typer reads options from parameter defaults)
"""``argosy controller``, ``argosy server`` and ``argosy install``: run and install Argosy on a cluster."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import typer
import uvicorn
from rich.console import Console

from argosy import bootstrap
from argosy.adapters import tls
from argosy.cli.groups import app
from argosy.ports.kube import is_not_found
from argosy.services.leader import LeaseSettings

err = Console(stderr=True, soft_wrap=True)

KubeconfigOption = typer.Option(None, "--kubeconfig", help="Kubeconfig file (default: $KUBECONFIG).")
NamespaceOption = typer.Option(
    "argocd", "--namespace", "-N", help="Namespace of Argosy and its Applications."
)
InsecureOption = typer.Option(
    False,
    "--insecure",
    envvar="ARGOCD_SERVER_INSECURE",
    help="Serve plain HTTP, without TLS (Argo CD's server.insecure in argocd-cmd-params-cm too).",
)
TlsCertOption = typer.Option(
    None, "--tls-cert", help="PEM certificate (chain) to serve (before the argocd-server-tls Secret)."
)
TlsKeyOption = typer.Option(None, "--tls-key", help="PEM private key of --tls-cert.")
CMD_PARAMS_CM = "argocd-cmd-params-cm"


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


def _truthy(value: object) -> bool:
    return str(value).strip().lower() in {"true", "1", "yes", "on"}


async def _get(rt: Any, kind: str, name: str, namespace: str) -> dict[str, Any] | None:
    """``kind/name`` or None when it is missing or cannot be read (a warning is logged then)."""
    try:
        result: dict[str, Any] = await rt.kube.get("v1", kind, name, namespace)
        return result
    except Exception as exc:
        if not is_not_found(exc):
            logging.getLogger(__name__).warning(
                "cannot read %s %s/%s: %s", kind, namespace, name, type(exc).__name__
            )
        return None


async def serve_insecure(rt: Any, namespace: str, flag: bool) -> bool:
    """``--insecure`` (or ``ARGOCD_SERVER_INSECURE``), else ``server.insecure`` of argocd-cmd-params-cm."""
    if flag:
        return True
    params = await _get(rt, "ConfigMap", CMD_PARAMS_CM, namespace)
    return _truthy(((params or {}).get("data") or {}).get("server.insecure", "false"))


async def server_certificate(
    rt: Any,
    namespace: str,
    *,
    cert_file: Path | None,
    key_file: Path | None,
    state_dir: Path | None,
    hosts: list[str],
) -> tls.ServerCertificate:
    """Argo CD's order: ``--tls-cert/--tls-key`` files, the argocd-server-tls Secret, ``tls.crt`` and
    ``tls.key`` of argocd-secret, else a self-signed certificate kept under ``<state>/tls``."""
    if (cert_file is None) != (key_file is None):
        raise tls.TlsError("--tls-cert and --tls-key go together")
    if cert_file is not None and key_file is not None:
        return tls.from_files(cert_file, key_file)
    secret = await _get(rt, "Secret", tls.SERVER_TLS_SECRET, namespace)
    found = tls.from_secret(secret) if secret is not None else None  # invalid: an error, as asked for
    if found is not None:
        return found
    secret = await _get(rt, "Secret", "argocd-secret", namespace)
    try:  # Argo CD replaces a missing or invalid certificate there with a generated one
        found = tls.from_secret(secret, source="secret argocd-secret") if secret is not None else None
        if found is not None:
            tls.server_ssl_context(found)
            return found
    except tls.TlsError as exc:
        logging.getLogger(__name__).warning("%s; using a generated certificate", exc)
    settings = await _get(rt, "ConfigMap", "argocd-cm", namespace)
    url = str(((settings or {}).get("data") or {}).get("url") or "")
    extra = [*hosts, *([urlsplit(url).hostname or ""] if url else [])]
    return tls.self_signed_in((state_dir or bootstrap.default_state_dir()) / "tls", extra)


def uvicorn_config(app_: Any, *, host: str, port: int, cert: tls.ServerCertificate | None) -> uvicorn.Config:
    """uvicorn's configuration, with our TLS context when ``cert`` is given."""
    if cert is None:
        return uvicorn.Config(app_, host=host, port=port, log_level="warning")
    context = tls.server_ssl_context(cert)
    return uvicorn.Config(
        app_, host=host, port=port, log_level="warning", ssl_context_factory=lambda _c, _d: context
    )


def describe_tls(cert: tls.ServerCertificate | None) -> str:
    if cert is None:
        return "plain HTTP (--insecure): no TLS"
    where = f" {cert.path}" if cert.path is not None and cert.source.startswith("generated") else ""
    return f"TLS certificate: {cert.source}{where}, SHA-256 {cert.fingerprint()}"


async def api_tls(
    rt: Any,
    namespace: str,
    *,
    insecure: bool,
    cert_file: Path | None,
    key_file: Path | None,
    state_dir: Path | None,
    host: str,
) -> tls.ServerCertificate | None:
    if await serve_insecure(rt, namespace, insecure):
        if cert_file is not None or key_file is not None:
            err.print("warning: --insecure serves plain HTTP; --tls-cert/--tls-key are ignored", markup=False)
        return None
    return await server_certificate(
        rt, namespace, cert_file=cert_file, key_file=key_file, state_dir=state_dir, hosts=[host]
    )


def url_host(host: str) -> str:
    shown = "127.0.0.1" if host in {"0.0.0.0", "::", ""} else host  # noqa: S104
    return f"[{shown}]" if ":" in shown else shown


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
    address: str = "127.0.0.1",
    insecure: bool = False,
    tls_cert: Path | None = None,
    tls_key: Path | None = None,
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
            try:
                cert = await api_tls(
                    rt,
                    namespace,
                    insecure=insecure,
                    cert_file=tls_cert,
                    key_file=tls_key,
                    state_dir=state_dir,
                    host=address,
                )
                # Secure cookies exactly when served over TLS (Argo CD drops the flag with --insecure).
                app_ = bootstrap.api_app(
                    rt, namespace=namespace, state_dir=state_dir, secure_cookies=cert is not None
                )
                config = uvicorn_config(app_, host=address, port=api_port, cert=cert)
            except tls.TlsError as exc:
                err.print(f"error: {exc}", markup=False)
                raise SystemExit(1) from exc
            api = uvicorn.Server(config)
            api_task = asyncio.create_task(api.serve())
            scheme = "https" if cert is not None else "http"
            err.print(f"API and web UI on {scheme}://{url_host(address)}:{api_port}/", markup=False)
            err.print(describe_tls(cert), markup=False)
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
    port: int = typer.Option(8080, "--port", help="Port of the API and web UI."),
    address: str = typer.Option("127.0.0.1", "--address", help="Address to listen on."),
    insecure: bool = InsecureOption,
    tls_cert: Path | None = TlsCertOption,
    tls_key: Path | None = TlsKeyOption,
    workers: int = typer.Option(10, "--workers"),
    leader_election: bool = typer.Option(True, "--leader-election/--no-leader-election"),
    state_dir: Path | None = typer.Option(None, "--state-dir"),
    verbose: bool = typer.Option(False, "--verbose", "-v"),
) -> None:
    """Run the controller, the REST API (/api/v1, /healthz, /readyz) and the web UI in one process.

    HTTPS by default, with the argocd-server-tls Secret's certificate, or --tls-cert/--tls-key, or a
    generated self-signed one (docs/operations.md); --insecure serves plain HTTP."""
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
            address=address,
            insecure=insecure,
            tls_cert=tls_cert,
            tls_key=tls_key,
        )
    )


@app.command("install")
def install(kubeconfig: str | None = KubeconfigOption, namespace: str = NamespaceOption) -> None:
    """Install the Application and AppProject CRDs and the namespace."""

    async def go() -> None:
        await bootstrap.install_cluster(kubeconfig, namespace)

    asyncio.run(go())
    err.print(f"Installed the CRDs and namespace {namespace}.")
