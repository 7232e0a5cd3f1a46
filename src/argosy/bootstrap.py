"""The composition root: builds the adapters from configuration and injects them into the services.

Layer 6: the only module that imports adapters and services together. The CLI (``argosy controller``,
``argosy server``, ``argosy install``, ``argosy quickstart``) calls the functions here.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import gc
import logging
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from argosy.adapters.db import SqlStore, default_sqlite_url, open_store
from argosy.adapters.git import GitClient
from argosy.adapters.kube import KubeClient
from argosy.adapters.kube.livecache import CacheOptions, ClusterCache, ResourceSettings
from argosy.adapters.kube.remote import RemoteClusters
from argosy.adapters.metrics import PrometheusMetrics, exposition
from argosy.adapters.notifiers import Notifiers
from argosy.adapters.render import RenderTools, render_source, tool_versions
from argosy.core.manifests import parse_manifests
from argosy.deploy import CRD_NAMES, crd_text
from argosy.ports.history import HistoryStore
from argosy.ports.kube import is_not_found
from argosy.services.controller import Controller, ControllerConfig, ControllerSettings
from argosy.services.leader import LeaderElector, LeaseSettings
from argosy.services.memory_history import MemoryHistoryStore
from argosy.services.metrics import publish_dora
from argosy.services.notifier import NotifierService
from argosy.services.repo import RepoService

__all__ = [
    "INSTALL_FIELD_MANAGER",
    "Runtime",
    "apply_objects",
    "default_state_dir",
    "find_render_tools",
    "history_store",
    "install",
    "ldap_config",
    "run_controller",
    "runtime",
]

if TYPE_CHECKING:
    from argosy.adapters.ldap import LdapConfig
    from argosy.core.sso import LdapConnector

log = logging.getLogger(__name__)

INSTALL_FIELD_MANAGER = "argosy-install"
NOTIFICATIONS_CM = "argocd-notifications-cm"
NOTIFICATIONS_SECRET = "argocd-notifications-secret"  # noqa: S105  (a Secret's name)
METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
DORA_INTERVAL = 60.0
NOTIFICATIONS_CONFIG_INTERVAL = 30.0


def default_state_dir() -> Path:
    return Path.home() / ".local" / "state" / "argosy"


def find_render_tools(progress: Callable[[str], None] = lambda _m: None) -> RenderTools:
    """helm and kubectl from PATH, else from the local toolchain (built and cached on first use)."""
    helm, kubectl = shutil.which("helm"), shutil.which("kubectl")
    if helm and kubectl:
        return RenderTools(helm=Path(helm), kubectl=Path(kubectl))
    from argosy.adapters.localcluster import toolchain  # noqa: PLC0415 (heavy; only when PATH lacks the tools)

    built = toolchain.ensure_toolchain(progress)
    return RenderTools(
        helm=Path(helm) if helm else built.binary("helm"),
        kubectl=Path(kubectl) if kubectl else built.binary("kubectl"),
    )


@contextlib.asynccontextmanager
async def history_store(state_dir: Path) -> AsyncIterator[HistoryStore]:
    """The SQL store (SQLite at ``<state_dir>/argosy.db``); the in-memory store if it cannot open."""
    logging.getLogger("alembic").setLevel(logging.WARNING)
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
        store = await open_store(default_sqlite_url(state_dir / "argosy.db"))
    except Exception as exc:
        log.warning("history store: cannot open SQLite in %s (%s); keeping history in memory", state_dir, exc)
        yield MemoryHistoryStore()
        return
    try:
        yield store
    finally:
        await store.close()


async def apply_objects(
    kube: KubeClient, objects: Iterable[Mapping[str, Any]], *, attempts: int = 30, delay: float = 1.0
) -> None:
    """Server-side apply each object (retrying while a just-installed CRD is not served yet)."""
    for obj in objects:
        for attempt in range(attempts):
            try:
                await kube.apply(obj, field_manager=INSTALL_FIELD_MANAGER, force=True)
                break
            except Exception as exc:
                if attempt == attempts - 1 or getattr(exc, "status", None) not in (404, 500, 503, None):
                    raise
                await asyncio.sleep(delay)


async def install(kube: KubeClient, namespace: str = "argocd") -> None:
    """The Application and AppProject CRDs and the control namespace."""
    crds = [doc for name in CRD_NAMES for doc in parse_manifests(crd_text(name), file=f"{name}-crd.yaml")]
    await apply_objects(kube, crds)
    await apply_objects(kube, [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}])
    for crd in crds:
        name = crd["metadata"]["name"]
        for _ in range(60):
            obj = await kube.get("apiextensions.k8s.io/v1", "CustomResourceDefinition", name)
            conditions = (obj.get("status") or {}).get("conditions") or []
            if any(c.get("type") == "Established" and c.get("status") == "True" for c in conditions):
                break
            await asyncio.sleep(0.25)
    await kube.discover(refresh=True)


async def install_cluster(kubeconfig: str | None, namespace: str = "argocd") -> None:
    async with KubeClient.from_kubeconfig(kubeconfig) as kube:
        await install(kube, namespace)


@dataclass(slots=True)
class Runtime:
    kube: KubeClient
    cache: ClusterCache
    git: GitClient
    repo: RepoService
    history: HistoryStore
    controller: Controller
    elector: LeaderElector | None
    metrics: PrometheusMetrics | None = None
    notifier: NotifierService | None = None
    namespace: str = "argocd"

    def stop(self) -> None:
        if self.elector is not None:
            self.elector.stop()
        self.controller.stop()


@contextlib.asynccontextmanager
async def runtime(
    *,
    kubeconfig: str | None = None,
    namespace: str = "argocd",
    state_dir: Path | None = None,
    workers: int = 10,
    leader_election: bool = True,
    lease: LeaseSettings | None = None,
    settings: ControllerSettings | None = None,
    history: HistoryStore | None = None,
    tools: RenderTools | None = None,
    progress: Callable[[str], None] = lambda _m: None,
) -> AsyncIterator[Runtime]:
    """Build every part; the live cache is started (and stopped on exit). Run with :func:`run_controller`."""
    state = state_dir or default_state_dir()
    state.mkdir(parents=True, exist_ok=True)
    metrics = PrometheusMetrics()
    ctl_settings = settings or ControllerSettings(namespace=namespace, workers=workers)
    kube = KubeClient.from_kubeconfig(kubeconfig, observer=metrics)
    stack = contextlib.AsyncExitStack()
    try:
        argocd_cm: dict[str, str] = {}
        with contextlib.suppress(Exception):
            cm = await kube.get("v1", "ConfigMap", "argocd-cm", namespace)
            argocd_cm = {str(k): str(v) for k, v in (cm.get("data") or {}).items()}
        try:
            resource_settings = ResourceSettings.from_configmap(argocd_cm)
        except Exception as exc:
            log.warning("argocd-cm resource filters: %s; using the defaults", exc)
            resource_settings = ResourceSettings()
        cache = ClusterCache(
            kube,
            settings=resource_settings,
            options=CacheOptions(),
            observer=metrics,
            metrics_server=ctl_settings.cluster_server,
            cluster_name="in-cluster",
        )
        metrics.add_cluster_source(cache.stats)
        render_tools = tools or find_render_tools(progress)
        git = GitClient(state / "git-cache", observer=metrics)
        # The RepoService asks the controller's live configuration for credentials at each call.
        config = ControllerConfig()
        repo = RepoService(
            git,
            functools.partial(render_source, tools=render_tools, parse=parse_manifests),
            tool_versions=await tool_versions(render_tools),
            credentials=config.credentials,
        )
        store: HistoryStore = (
            history if history is not None else await stack.enter_async_context(history_store(state))
        )

        def on_repo_settings(known_hosts: Any, tls_certs: Any) -> None:
            git.set_known_hosts(known_hosts)
            git.set_tls_certs(tls_certs)

        notifier = await _notifier(kube, namespace, store, metrics, stack)
        # Sync writes get their own HTTP/2 client: one connection for many concurrent applies and
        # dry runs. The watches stay on HTTP/1.1 (docs/kube.md); docs/performance.md has the figures.
        sync_kube = KubeClient.from_kubeconfig(kubeconfig, http2=True, observer=metrics)
        stack.push_async_callback(sync_kube.aclose)
        controller = Controller(
            kube,
            cache,
            repo,
            store,
            settings=ctl_settings,
            config=config,
            on_repo_settings=on_repo_settings,
            metrics=metrics,
            on_app_written=notifier.on_app if notifier is not None else None,
            clusters=RemoteClusters(
                resource_settings=resource_settings,
                observer=metrics,
                cache_observer=metrics,
                add_cluster_source=metrics.add_cluster_source,
            ),
            sync_kube=sync_kube,
        )
        elector = (
            LeaderElector(kube, lease or LeaseSettings(namespace=namespace)) if leader_election else None
        )
        await cache.start(wait=True, timeout=120)
        # The cache's objects live long: exempt them from the collector's scans, which otherwise
        # repeat while the compare memos fill (docs/performance.md, the no-op compare).
        gc.collect()
        gc.freeze()
        try:
            yield Runtime(kube, cache, git, repo, store, controller, elector, metrics, notifier, namespace)
        finally:
            gc.unfreeze()
            await cache.stop()
    finally:
        await stack.aclose()
        await kube.aclose()


async def _read_data(kube: KubeClient, kind: str, name: str, namespace: str) -> dict[str, str] | None:
    """A ConfigMap's ``data`` or a Secret's decoded ``data``; ``None`` when it does not exist."""
    try:
        obj = await kube.get("v1", kind, name, namespace)
    except Exception as exc:
        if not is_not_found(exc):
            log.warning("reading %s %s/%s: %s", kind, namespace, name, exc)
        return None
    data = {str(k): str(v) for k, v in (obj.get("data") or {}).items()}
    if kind == "Secret":
        decoded = {}
        for key, value in data.items():
            try:
                decoded[key] = base64.b64decode(value).decode("utf-8")
            except ValueError:
                log.warning("secret %s/%s: key %s is not base64 UTF-8; ignored", namespace, name, key)
        data = decoded
    return data


async def _notifier(
    kube: KubeClient,
    namespace: str,
    store: HistoryStore,
    metrics: PrometheusMetrics,
    stack: contextlib.AsyncExitStack,
) -> NotifierService | None:
    """The notifier when ``argocd-notifications-cm`` exists (outbox in the SQL store), else ``None``.

    Never raises: notifications are optional and must not keep the controller from starting.
    """
    try:
        config = await _read_data(kube, "ConfigMap", NOTIFICATIONS_CM, namespace)
        if config is None:
            return None
        if not isinstance(store, SqlStore):
            log.warning("notifications: the SQL store is not available; %s is ignored", NOTIFICATIONS_CM)
            return None
        secrets = await _read_data(kube, "Secret", NOTIFICATIONS_SECRET, namespace) or {}
        senders = Notifiers()
        stack.push_async_callback(senders.aclose)
        return NotifierService(store, senders, config_data=config, secrets=secrets, metrics=metrics)
    except Exception as exc:
        log.warning("notifications disabled: %s", exc)
        return None


async def _refresh_notifications(rt: Runtime, notifier: NotifierService) -> None:
    """Follow changes of the notifications ConfigMap and Secret (a deleted ConfigMap keeps the last)."""
    while True:
        await asyncio.sleep(NOTIFICATIONS_CONFIG_INTERVAL)
        try:
            config = await _read_data(rt.kube, "ConfigMap", NOTIFICATIONS_CM, rt.namespace)
            if config is not None:
                secrets = await _read_data(rt.kube, "Secret", NOTIFICATIONS_SECRET, rt.namespace) or {}
                notifier.update_config(config, secrets)
        except Exception as exc:
            log.warning("notifications: reloading the configuration: %s", exc)


async def _publish_dora(rt: Runtime, metrics: PrometheusMetrics) -> None:
    while True:
        try:
            await publish_dora(rt.history, metrics, now=datetime.now(UTC))
        except Exception as exc:
            log.warning("DORA metrics: %s", exc)
        await asyncio.sleep(DORA_INTERVAL)


async def _run_with_companions(rt: Runtime) -> None:
    """The controller, with the notifier and the DORA publisher beside it (their errors are logged,
    never raised: they cannot stop the controller)."""
    stop = asyncio.Event()
    companions: list[asyncio.Task[None]] = []
    if rt.metrics is not None:
        companions.append(asyncio.create_task(_publish_dora(rt, rt.metrics), name="dora"))
    if rt.notifier is not None:
        companions.append(asyncio.create_task(rt.notifier.run(stop=stop), name="notifier"))
        companions.append(asyncio.create_task(_refresh_notifications(rt, rt.notifier), name="notify-cfg"))
    try:
        await rt.controller.run()
    finally:
        stop.set()
        for task in companions:
            task.cancel()
        for task in companions:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


async def run_controller(rt: Runtime) -> None:
    """Run until ``rt.stop()``: with leader election, reconcile (and notify) only while holding the
    Lease."""
    if rt.elector is None:
        await _run_with_companions(rt)
        return
    controller = rt.controller

    async def lead() -> None:
        controller._stop = asyncio.Event()
        await _run_with_companions(rt)

    await rt.elector.run(lead)


# --- the embedded default (``argosy quickstart``) ------------------------------------------------------

PLACEHOLDER_REPO = "http://git.argosy.local/sophia-platform.git"
_COMMIT_DATE = "2026-01-01T00:00:00+00:00"


def _git_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(
        GIT_CONFIG_NOSYSTEM="1",
        GIT_CONFIG_GLOBAL=os.devnull,
        GIT_TERMINAL_PROMPT="0",
        GIT_AUTHOR_NAME="Argosy quickstart",
        GIT_AUTHOR_EMAIL="quickstart@argosy.invalid",
        GIT_COMMITTER_NAME="Argosy quickstart",
        GIT_COMMITTER_EMAIL="quickstart@argosy.invalid",
        GIT_AUTHOR_DATE=_COMMIT_DATE,
        GIT_COMMITTER_DATE=_COMMIT_DATE,
    )
    return env


def _git(*args: str, cwd: Path | None = None) -> str:
    done = subprocess.run(
        ["git", *args], cwd=cwd, env=_git_env(), capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout


def publish_directory(source: Path, base: Path, name: str = "sophia-platform.git") -> str:
    """Commit ``source`` (deterministically: the same files give the same SHA) to branch ``main`` of
    the bare repository ``base/name``; returns the commit SHA. The checkout is never touched."""
    bare = base / name
    if not (bare / "HEAD").exists():
        bare.mkdir(parents=True, exist_ok=True)
        _git("init", "--bare", "--quiet", "--initial-branch=main", str(bare))
    with tempfile.TemporaryDirectory(prefix="argosy-publish-") as tmp:
        work = Path(tmp) / "work"
        shutil.copytree(source, work, ignore=shutil.ignore_patterns(".git"))
        _git("init", "--quiet", "--initial-branch=main", cwd=work)
        _git("add", "-A", cwd=work)
        _git("commit", "--quiet", "-m", f"{source.name}", cwd=work)
        _git("push", "--quiet", "--force", str(bare), "HEAD:refs/heads/main", cwd=work)
        return _git("rev-parse", "HEAD", cwd=work).strip()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class GitDaemon:
    """``git daemon`` serving every repository under ``base`` read-only on 127.0.0.1."""

    def __init__(self, base: Path, port: int | None = None) -> None:
        self.base = base
        self.port = port or _free_port()
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"git://127.0.0.1:{self.port}"

    def start(self, timeout: float = 10.0) -> GitDaemon:
        self._process = subprocess.Popen(
            [
                "git",
                "daemon",
                "--reuseaddr",
                "--export-all",
                "--informative-errors",
                f"--base-path={self.base}",
                "--listen=127.0.0.1",
                f"--port={self.port}",
                str(self.base),
            ],
            env=_git_env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                if sock.connect_ex(("127.0.0.1", self.port)) == 0:
                    return self
            if self._process.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"git daemon did not start on 127.0.0.1:{self.port}")

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def platform_objects(platform: Path, repo_url: str, namespace: str = "argocd") -> list[dict[str, Any]]:
    """The objects the quickstart applies, in order: configuration, the repository Secret, projects,
    applications; the placeholder repository URL replaced (in memory) by ``repo_url``."""
    argocd = platform / "argocd"

    def load(path: Path) -> list[dict[str, Any]]:
        text = path.read_text(encoding="utf-8").replace(PLACEHOLDER_REPO, repo_url)
        docs = parse_manifests(text, file=path.name)
        for doc in docs:
            doc.setdefault("metadata", {})["namespace"] = namespace
        return docs

    objects: list[dict[str, Any]] = []
    for path in sorted((argocd / "config").glob("*.yaml")):
        if path.name.endswith(".template.yaml"):
            continue
        objects.extend(load(path))
    for secret in load(argocd / "config" / "repository-secret.template.yaml"):
        data = dict(secret.get("stringData") or {})
        data["password"] = secrets.token_hex(16)  # git:// takes no credentials; never a real value
        secret["stringData"] = data
        objects.append(secret)
    for sub in ("projects", "applications"):
        for path in sorted((argocd / sub).glob("*.yaml")):
            objects.extend(load(path))
    return objects


async def apply_platform(
    kubeconfig: str | None, platform: Path, repo_url: str, namespace: str = "argocd"
) -> list[str]:
    """Install the CRDs and namespace, then apply the platform; returns the Application names."""
    async with KubeClient.from_kubeconfig(kubeconfig) as kube:
        await install(kube, namespace)
        objects = platform_objects(platform, repo_url, namespace)
        await apply_objects(kube, objects)
    return [o["metadata"]["name"] for o in objects if o.get("kind") == "Application"]


def application_rows(apps: Iterable[Mapping[str, Any]]) -> list[dict[str, str]]:
    """One row per Application: name, project, environment, sync, health, revision (short)."""
    rows = []
    for obj in sorted(apps, key=lambda a: str(a["metadata"]["name"])):
        status = obj.get("status") or {}
        sync = status.get("sync") or {}
        rows.append(
            {
                "application": str(obj["metadata"]["name"]),
                "project": str((obj.get("spec") or {}).get("project") or "default"),
                "environment": str(((obj.get("metadata") or {}).get("labels") or {}).get("environment", "")),
                "sync": str(sync.get("status") or "Unknown"),
                "health": str((status.get("health") or {}).get("status") or "Unknown"),
                "revision": str(sync.get("revision") or "")[:7],
                "operation": str((status.get("operationState") or {}).get("phase") or ""),
            }
        )
    return rows


async def list_applications(kube: KubeClient, namespace: str = "argocd") -> list[dict[str, Any]]:
    return list((await kube.list("argoproj.io/v1alpha1", "Application", namespace)).items)


def api_app(
    rt: Runtime, *, namespace: str, state_dir: Path | None = None, secure_cookies: bool = True
) -> Any:
    """The REST API (and the web UI when it is built) over the runtime's Kubernetes client.

    The audit log goes to ``<state>/audit.log`` with Secret values masked (docs/audit.md).
    """
    import dataclasses  # noqa: PLC0415  (only the server needs these)

    from argosy.adapters.audit import AuditEvent, AuditLogWriter  # noqa: PLC0415
    from argosy.api import ApiDeps, create_app  # noqa: PLC0415
    from argosy.api.manifests import RepoManifestSource  # noqa: PLC0415
    from argosy.ui import mount_ui, ui_built  # noqa: PLC0415

    writer = AuditLogWriter((state_dir or default_state_dir()) / "audit.log")
    app = create_app(
        ApiDeps(
            kube=rt.kube,
            namespace=namespace,
            secure_cookies=secure_cookies,
            audit=lambda e: writer.write(AuditEvent(**dataclasses.asdict(e))),
            manifests=RepoManifestSource(rt.repo),
            sso=sso_backends(),
            history=rt.history,
        )
    )
    metrics = rt.metrics
    if metrics is not None:
        from fastapi.responses import Response  # noqa: PLC0415

        async def metrics_endpoint() -> Response:
            return Response(content=exposition(metrics), media_type=METRICS_CONTENT_TYPE)

        # Before the UI's catch-all route; added here (not in argosy.api) as it reads an adapter.
        app.add_api_route("/metrics", metrics_endpoint, methods=["GET"], include_in_schema=False)
    if ui_built():
        mount_ui(app)
    # The audit log file is closed when the server stops (the app's lifespan ends), not left to GC.
    serve = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan_closing_the_audit_log(server: Any) -> AsyncIterator[Any]:
        try:
            async with serve(server) as state:
                yield state
        finally:
            writer.close()

    app.router.lifespan_context = lifespan_closing_the_audit_log
    return app


def ldap_config(conn: LdapConnector, *, bind_password: str | None = None) -> LdapConfig:
    """The LDAP adapter's settings for a ``dex.config`` connector (its bind password revealed here,
    or ``bind_password`` instead)."""
    from argosy.adapters.ldap import LdapConfig, LdapGroupSearch, LdapUserSearch  # noqa: PLC0415

    us, gs = conn.user_search, conn.group_search
    return LdapConfig(
        host=conn.host,
        port=conn.port,
        bind_dn=conn.bind_dn,
        bind_password=conn.bind_pw.reveal() if bind_password is None else bind_password,
        insecure_no_ssl=conn.insecure_no_ssl,
        start_tls=conn.start_tls,
        insecure_skip_verify=conn.insecure_skip_verify,
        root_ca=conn.root_ca,
        root_ca_data=conn.root_ca_data,
        user_search=LdapUserSearch(
            base_dn=us.base_dn,
            username=us.username,
            filter=us.filter,
            id_attr=us.id_attr,
            email_attr=us.email_attr,
            name_attr=us.name_attr,
            preferred_username_attr=us.preferred_username_attr,
            scope=us.scope,
        ),
        group_search=None
        if gs is None
        else LdapGroupSearch(
            base_dn=gs.base_dn,
            user_matchers=[(m.user_attr, m.group_attr) for m in gs.user_matchers],
            filter=gs.filter,
            name_attr=gs.name_attr,
            scope=gs.scope,
        ),
    )


def sso_backends() -> Any:
    """``ApiDeps.sso``: LDAP logins through ``argosy.adapters.ldap`` (in a worker thread) and the HTTP
    client of the OIDC and GitHub flows (``argosy.adapters.oidc``). docs/auth.md."""
    from argosy.adapters.ldap import LdapAuthenticator, LdapAuthError  # noqa: PLC0415  (only the server needs these)
    from argosy.adapters.oidc import OidcHttpClient  # noqa: PLC0415
    from argosy.ports.sso import SsoBackends, SsoLoginError, SsoUser  # noqa: PLC0415

    async def ldap_login(conn: LdapConnector, username: str, password: str) -> SsoUser:
        try:
            authenticator = LdapAuthenticator(ldap_config(conn))
            who = await asyncio.to_thread(authenticator.authenticate, username, password)
        except LdapAuthError as exc:
            raise SsoLoginError(exc.reason, str(exc)) from None
        return SsoUser(who.user_id, who.username, who.email, who.name, who.groups)

    return SsoBackends(ldap_login=ldap_login, http=OidcHttpClient())
