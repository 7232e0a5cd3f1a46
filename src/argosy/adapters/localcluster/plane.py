"""Start, check and stop a named local control plane (etcd, kube-apiserver, kube-controller-manager,
kube-scheduler, kwok) on 127.0.0.1.

Every cluster has its own state directory (``ARGOSY_STATE_DIR`` or ``~/.local/state/argosy``,
then ``clusters/<name>``) holding its PKI, kubeconfigs, etcd data, logs and ``cluster.json`` with
the ports and the pids it started. ``down`` stops exactly those pids, in reverse start order, and
a half-started plane is torn down before ``up`` reports its error.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import signal
import socket
import ssl
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

from argosy.adapters.localcluster import pki as pki_mod
from argosy.adapters.localcluster.toolchain import Toolchain

Progress = Callable[[str], None]

START_ORDER = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok")
NODE_NAME = "kwok-node-0"
# Pods carrying this label (kwok's own chaos stage) fail about a second after they start running.
FAILURE_LABEL = "pod-container-running-failed.stage.kwok.x-k8s.io"
PORT_NAMES = ("etcd_client", "etcd_peer", "apiserver", "controller_manager", "scheduler")
SERVICE_CIDR = "10.96.0.0/16"
POD_CIDR = "10.244.0.0/16"


class ClusterError(RuntimeError):
    """A cluster step failed; the message names the step and, where there is one, its log file."""


@dataclass(slots=True)
class ClusterState:
    name: str
    directory: str
    ports: dict[str, int]
    pids: dict[str, int] = field(default_factory=dict)
    binaries: dict[str, str] = field(default_factory=dict)
    kubernetes_version: str = ""

    @property
    def server(self) -> str:
        return f"https://127.0.0.1:{self.ports['apiserver']}"

    @property
    def kubeconfig(self) -> Path:
        return Path(self.directory) / "admin.kubeconfig"


def state_root() -> Path:
    override = os.environ.get("ARGOSY_STATE_DIR")
    base = Path(override) if override else Path.home() / ".local" / "state" / "argosy"
    return base / "clusters"


def cluster_dir(name: str) -> Path:
    return state_root() / name


def load_state(name: str) -> ClusterState | None:
    path = cluster_dir(name) / "cluster.json"
    if not path.is_file():
        return None
    data = json.loads(path.read_text(encoding="utf-8"))
    return ClusterState(**data)


def _save_state(state: ClusterState) -> None:
    path = Path(state.directory) / "cluster.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(asdict(state), indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)


# Components this process started, kept so that their Popen objects are not garbage-collected
# (and reported as "still running") while the daemons are meant to outlive the call that started them.
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


def _reap(pid: int) -> None:
    # Our own children become zombies when they exit; collect them so they stop looking alive.
    child = _CHILDREN.get(pid)
    if child is not None:
        if child.poll() is not None:
            del _CHILDREN[pid]
        return
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def pid_alive(pid: int, binary: str | None = None) -> bool:
    """True when ``pid`` runs (not a zombie) and, if given, runs ``binary`` (pids get reused)."""
    _reap(pid)
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8")
    except OSError:
        return False
    if stat.rsplit(")", 1)[1].split()[0] == "Z":
        return False
    if binary is None:
        return True
    try:
        exe = str(Path(f"/proc/{pid}/exe").readlink())
    except OSError:
        return False
    return Path(exe).name == Path(binary).name or exe.removesuffix(" (deleted)") == str(
        Path(binary).resolve()
    )


def port_listening(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _free_ports(count: int) -> list[int]:
    socks: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            socks.append(sock)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _has_default_route() -> bool:
    try:
        lines = Path("/proc/net/route").read_text(encoding="utf-8").splitlines()[1:]
    except OSError:
        return False
    return any(line.split()[1] == "00000000" for line in lines if len(line.split()) > 1)


def _b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


def _write_kubeconfig(path: Path, server: str, pki: pki_mod.ClusterPKI, stem: str, cluster_name: str) -> None:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": cluster_name,
                "cluster": {"server": server, "certificate-authority-data": _b64(pki.ca_cert)},
            }
        ],
        "users": [
            {
                "name": stem,
                "user": {
                    "client-certificate-data": _b64(pki.client_cert(stem)),
                    "client-key-data": _b64(pki.client_key(stem)),
                },
            }
        ],
        "contexts": [{"name": cluster_name, "context": {"cluster": cluster_name, "user": stem}}],
        "current-context": cluster_name,
    }
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    path.chmod(0o600)


def admin_ssl_context(state: ClusterState) -> ssl.SSLContext:
    """TLS for talking to the cluster's apiserver as its admin (client certificate, cluster CA)."""
    pki = pki_mod.ClusterPKI(Path(state.directory) / "pki")
    context = ssl.create_default_context(cafile=str(pki.ca_cert))
    context.load_cert_chain(str(pki.client_cert("admin")), str(pki.client_key("admin")))
    return context


@contextlib.contextmanager
def _admin_client(state: ClusterState) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=state.server, verify=admin_ssl_context(state), timeout=5.0) as client:
        yield client


def _wait(
    step: str, check: Callable[[], bool], *, timeout: float, log: Path | None, alive: Callable[[], bool]
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive():
            where = f"; see its log: {log}" if log else ""
            raise ClusterError(f"{step}: the process exited before it became ready{where}")
        with contextlib.suppress(httpx.HTTPError, OSError):
            if check():
                return
        time.sleep(0.2)
    where = f"; see its log: {log}" if log else ""
    raise ClusterError(f"{step}: not ready after {timeout:.0f}s{where}")


class _Launcher:
    def __init__(self, state: ClusterState) -> None:
        self.state = state
        self.logs = Path(state.directory) / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)

    def log_of(self, component: str) -> Path:
        return self.logs / f"{component}.log"

    def start(self, component: str, argv: list[str], env: dict[str, str] | None = None) -> None:
        log = self.log_of(component)
        with log.open("ab") as sink:
            proc = subprocess.Popen(
                argv,
                stdout=sink,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # survive the CLI that started it; stop only by pid
                env=env,
                cwd=self.state.directory,
            )
        _CHILDREN[proc.pid] = proc
        self.state.pids[component] = proc.pid
        self.state.binaries[component] = argv[0]
        _save_state(self.state)

    def alive(self, component: str) -> Callable[[], bool]:
        return lambda: pid_alive(self.state.pids[component], self.state.binaries[component])


def _node_manifest() -> dict[str, Any]:
    resources = {"cpu": "32", "memory": "256Gi", "pods": "110"}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": NODE_NAME,
            "annotations": {"node.alpha.kubernetes.io/ttl": "0", "kwok.x-k8s.io/node": "fake"},
            "labels": {
                "kubernetes.io/arch": "amd64",
                "kubernetes.io/hostname": NODE_NAME,
                "kubernetes.io/os": "linux",
                "kubernetes.io/role": "agent",
                "node-role.kubernetes.io/agent": "",
                "type": "kwok",
            },
        },
        "status": {"allocatable": resources, "capacity": resources},
    }


def status(name: str) -> dict[str, Any]:
    """Which components of ``name`` run, and whether the apiserver answers /readyz."""
    state = load_state(name)
    if state is None:
        return {"name": name, "exists": False, "components": {}, "ready": False}
    components = {comp: pid_alive(pid, state.binaries.get(comp)) for comp, pid in state.pids.items()}
    ready = False
    if components.get("kube-apiserver"):
        with contextlib.suppress(httpx.HTTPError, OSError), _admin_client(state) as client:
            ready = client.get("/readyz").status_code == 200
    return {
        "name": name,
        "exists": True,
        "server": state.server,
        "kubeconfig": str(state.kubeconfig),
        "ports": state.ports,
        "components": components,
        "ready": ready,
        "kubernetes_version": state.kubernetes_version,
    }


def up(
    name: str,
    toolchain: Toolchain,
    *,
    progress: Progress = print,
    apiserver_port: int | None = None,
    timeout: float = 120.0,
) -> ClusterState:
    """Start cluster ``name`` and wait for /readyz and a Ready node; reuse it when already running."""
    existing = load_state(name)
    if existing is not None:
        info = status(name)
        if info["ready"] and all(info["components"].get(c) for c in START_ORDER):
            progress(f"Cluster {name!r} is already running at {existing.server}")
            return existing
        progress(f"Cluster {name!r} was left half-running; stopping what is left of it first")
        down(name, progress=progress)

    started = time.monotonic()
    ports = dict(zip(PORT_NAMES, _free_ports(len(PORT_NAMES)), strict=True))
    if apiserver_port is not None:
        if not _port_free(apiserver_port):
            raise ClusterError(
                f"port check: 127.0.0.1:{apiserver_port} is already in use; pick another --port"
            )
        ports["apiserver"] = apiserver_port
    directory = cluster_dir(name)
    directory.mkdir(parents=True, exist_ok=True)
    state = ClusterState(
        name=name, directory=str(directory), ports=ports, kubernetes_version=toolchain.kubernetes_version
    )
    _save_state(state)
    try:
        _start_all(state, toolchain, progress, timeout)
    except BaseException:
        progress(f"Cluster {name!r} did not start; stopping the parts that did")
        down(name, progress=progress, keep_logs=True)
        raise
    progress(f"Cluster {name!r} ready at {state.server} in {time.monotonic() - started:.1f}s")
    return state


def _start_all(state: ClusterState, toolchain: Toolchain, progress: Progress, timeout: float) -> None:
    d = Path(state.directory)
    p = state.ports
    bins = toolchain.binary
    launcher = _Launcher(state)
    progress("  generating certificates")
    pki = pki_mod.generate(d / "pki")
    for stem in ("admin", "kube-controller-manager", "kube-scheduler", "kwok"):
        _write_kubeconfig(d / f"{stem}.kubeconfig", state.server, pki, stem, f"argosy-{state.name}")

    progress("  starting etcd")
    etcd_url = f"http://127.0.0.1:{p['etcd_client']}"
    peer_url = f"http://127.0.0.1:{p['etcd_peer']}"
    launcher.start(
        "etcd",
        [
            str(bins("etcd")),
            "--name=node0",
            f"--data-dir={d / 'etcd'}",
            f"--listen-client-urls={etcd_url}",
            f"--advertise-client-urls={etcd_url}",
            f"--listen-peer-urls={peer_url}",
            f"--initial-advertise-peer-urls={peer_url}",
            f"--initial-cluster=node0={peer_url}",
            "--initial-cluster-state=new",
            "--unsafe-no-fsync",
            "--auto-compaction-retention=1",
            "--logger=zap",
            "--log-level=warn",
        ],
    )
    _wait(
        "etcd /health",
        lambda: httpx.get(f"{etcd_url}/health", timeout=2).status_code == 200,
        timeout=timeout,
        log=launcher.log_of("etcd"),
        alive=launcher.alive("etcd"),
    )

    progress("  starting kube-apiserver")
    apiserver_args = [
        str(bins("kube-apiserver")),
        f"--etcd-servers={etcd_url}",
        "--etcd-prefix=/registry",
        "--bind-address=127.0.0.1",
        f"--secure-port={p['apiserver']}",
        "--endpoint-reconciler-type=none",
        f"--tls-cert-file={pki.serving_cert}",
        f"--tls-private-key-file={pki.serving_key}",
        f"--client-ca-file={pki.ca_cert}",
        "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
        f"--service-account-key-file={pki.sa_public}",
        f"--service-account-signing-key-file={pki.sa_private}",
        "--authorization-mode=Node,RBAC",
        f"--service-cluster-ip-range={SERVICE_CIDR}",
        "--allow-privileged=true",
        "--enable-admission-plugins=NodeRestriction",
        f"--cert-dir={d / 'apiserver-certs'}",
        "--profiling=false",
        "--v=1",
    ]
    if not _has_default_route():
        apiserver_args.append("--advertise-address=127.0.0.1")
    launcher.start("kube-apiserver", apiserver_args)

    def readyz() -> bool:
        with _admin_client(state) as client:
            return client.get("/readyz").status_code == 200

    _wait(
        "kube-apiserver /readyz",
        readyz,
        timeout=timeout,
        log=launcher.log_of("kube-apiserver"),
        alive=launcher.alive("kube-apiserver"),
    )

    progress("  starting kube-controller-manager and kube-scheduler")
    kcm_config = d / "kube-controller-manager.kubeconfig"
    launcher.start(
        "kube-controller-manager",
        [
            str(bins("kube-controller-manager")),
            f"--kubeconfig={kcm_config}",
            f"--authentication-kubeconfig={kcm_config}",
            f"--authorization-kubeconfig={kcm_config}",
            "--bind-address=127.0.0.1",
            f"--secure-port={p['controller_manager']}",
            "--authorization-always-allow-paths=/healthz,/readyz,/livez,/metrics",
            "--leader-elect=false",
            "--controllers=*",
            "--use-service-account-credentials=true",
            f"--root-ca-file={pki.ca_cert}",
            f"--service-account-private-key-file={pki.sa_private}",
            f"--cluster-signing-cert-file={pki.ca_cert}",
            f"--cluster-signing-key-file={pki.ca_key}",
            f"--cert-dir={d / 'kcm-certs'}",
            "--node-monitor-period=5s",
            "--node-monitor-grace-period=40s",
            "--profiling=false",
            "--v=1",
        ],
    )
    sched_config = d / "kube-scheduler.kubeconfig"
    launcher.start(
        "kube-scheduler",
        [
            str(bins("kube-scheduler")),
            f"--kubeconfig={sched_config}",
            f"--authentication-kubeconfig={sched_config}",
            f"--authorization-kubeconfig={sched_config}",
            "--bind-address=127.0.0.1",
            f"--secure-port={p['scheduler']}",
            f"--cert-dir={d / 'scheduler-certs'}",
            "--authorization-always-allow-paths=/healthz,/readyz,/livez,/metrics",
            "--leader-elect=false",
            "--profiling=false",
            "--v=1",
        ],
    )

    def default_service_account() -> bool:
        with _admin_client(state) as client:
            return client.get("/api/v1/namespaces/default/serviceaccounts/default").status_code == 200

    kcm_alive = launcher.alive("kube-controller-manager")
    sched_alive = launcher.alive("kube-scheduler")
    _wait(
        "kube-controller-manager (the default ServiceAccount)",
        default_service_account,
        timeout=timeout,
        log=launcher.log_of("kube-controller-manager"),
        alive=lambda: kcm_alive() and sched_alive(),
    )

    progress("  starting kwok and registering node " + NODE_NAME)
    kwok_env = dict(os.environ)
    kwok_env["HOME"] = str(d)  # kwok auto-loads ~/.kwok/kwok.yaml; keep it out of the user's home
    launcher.start(
        "kwok",
        [
            str(bins("kwok")),
            f"--kubeconfig={d / 'kwok.kubeconfig'}",
            "--config=" + ",".join(str(s) for s in toolchain.kwok_stages),
            "--manage-all-nodes=false",
            "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
            "--node-lease-duration-seconds=40",
            f"--cidr={POD_CIDR}",
        ],
        env=kwok_env,
    )
    with _admin_client(state) as client:
        response = client.post("/api/v1/nodes", json=_node_manifest())
        if response.status_code not in (201, 409):
            raise ClusterError(
                f"register node {NODE_NAME}: HTTP {response.status_code}: {response.text[:300]}"
            )

    def node_ready() -> bool:
        with _admin_client(state) as client:
            node = client.get(f"/api/v1/nodes/{NODE_NAME}").json()
        conditions = node.get("status", {}).get("conditions") or []
        return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)

    _wait(
        f"kwok node {NODE_NAME} Ready",
        node_ready,
        timeout=timeout,
        log=launcher.log_of("kwok"),
        alive=launcher.alive("kwok"),
    )


def _stop_pid(pid: int, binary: str | None, grace: float) -> None:
    try:
        _signal_until_gone(pid, binary, grace)
    finally:
        # A child of this process is reaped here: pid_alive() can see it as a zombie (and stop
        # waiting) before polling its Popen, which would then be reported as "still running" at exit.
        child = _CHILDREN.pop(pid, None)
        if child is not None:
            try:
                child.wait(timeout=5)
            except subprocess.TimeoutExpired:
                _CHILDREN[pid] = child


def _signal_until_gone(pid: int, binary: str | None, grace: float) -> None:
    if not pid_alive(pid, binary):
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if not pid_alive(pid, binary):
            return
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and pid_alive(pid, binary):
        time.sleep(0.1)


def down(name: str, *, progress: Progress = print, keep_logs: bool = False) -> bool:
    """Stop every process cluster ``name`` started (reverse start order) and remove its state.

    Returns False when there was no such cluster.
    """
    state = load_state(name)
    if state is None:
        return False
    for component in reversed(START_ORDER):
        pid = state.pids.get(component)
        if pid is None:
            continue
        # The apiserver ignores SIGTERM for a long time once etcd is gone: give it a short grace only.
        grace = 5.0 if component == "kube-apiserver" else 10.0
        _stop_pid(pid, state.binaries.get(component), grace)
    busy = [f"{k}={v}" for k, v in state.ports.items() if port_listening(v)]
    directory = Path(state.directory)
    if keep_logs:
        # Keep the logs for the error message; drop everything else.
        for child in directory.iterdir():
            if child.name != "logs":
                _remove(child)
    else:
        _remove(directory)
    if busy:
        progress(f"Warning: ports still in use after stopping {name!r}: {', '.join(busy)}")
    progress(f"Cluster {name!r} stopped")
    return True


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        for child in path.iterdir():
            _remove(child)
        path.rmdir()
    else:
        path.unlink(missing_ok=True)
