"""``argosy controller --metrics-port``: the Git, Kubernetes-request and cluster series (docs/metrics.md).

A controller process reconciles an auto-synced Application whose repository is on the ``git_server``
fixture (smart HTTP with Basic credentials from a repository Secret), against the ``control_plane``
fixture. Its ``/metrics`` must show ``argocd_git_request_*`` per repository and request type (no
credential anywhere), ``argocd_app_k8s_request_total`` with the app's labels and Argo CD's verbs and
kinds, and the ``argocd_cluster_*`` series of the live cache; a new commit and a refresh must make
the Git and request counters grow.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.integration.test_controller import Env, _configmap, _setup_namespace, crds  # noqa: F401
from tests.integration.test_controller_processes import application, wait
from tests.support.cluster import ControlPlane
from tests.support.gitserver import BareRepo, GitServer
from tests.support.receivers import free_port

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
ARGOSY = ROOT / ".venv" / "bin" / "argosy"
PROXY_VARS = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")
IN_CLUSTER = "https://kubernetes.default.svc"


def _samples(text: str, metric: str) -> list[tuple[dict[str, str], float]]:
    found = []
    for line in text.splitlines():
        match = re.match(rf"^{metric}\{{(.*)\}} (\S+)$", line)
        if match:
            labels = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', match.group(1)))
            found.append((labels, float(match.group(2))))
    return found


def _total(text: str, metric: str, **labels: str) -> float:
    return sum(v for s, v in _samples(text, metric) if all(s.get(k) == want for k, want in labels.items()))


@contextlib.contextmanager
def _controller(cp: ControlPlane, ns: str, tmp: Path, port: int) -> Iterator[subprocess.Popen[bytes]]:
    env = {k: v for k, v in os.environ.items() if k not in PROXY_VARS}
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    env["PATH"] = f"{cp.bin_dir}{os.pathsep}{env.get('PATH', '')}"
    log = tmp / "controller.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                str(ARGOSY),
                "controller",
                "--kubeconfig",
                str(cp.kubeconfig),
                "--namespace",
                ns,
                "--no-leader-election",
                "--state-dir",
                str(tmp / "state"),
                "--metrics-port",
                str(port),
            ],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    try:
        yield proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def test_controller_metrics_count_git_and_kubernetes_requests_and_report_the_cluster(
    control_plane: ControlPlane,
    namespace: str,
    git_server: GitServer,
    git_repo: BareRepo,
    crds: None,  # noqa: F811  (the fixture imported above)
    tmp_path: Path,
) -> None:
    cp, ns = control_plane, namespace
    env = Env(cp, ns)
    _setup_namespace(cp, ns, git_repo, git_server)
    first = git_repo.commit_files({"app/settings.yaml": _configmap("settings", {"v": "1"})}, "v1")
    dest = cp.new_namespace()
    name = f"mr-{uuid.uuid4().hex[:6]}"
    env.apply(application(name, ns, git_repo.http_url, dest))
    version = json.loads(cp.kubectl("version", "-o", "json").stdout)["serverVersion"]
    k8s_version = f"{version['major']}.{version['minor']}"
    port = free_port()

    with _controller(cp, ns, tmp_path, port) as proc:

        def alive() -> None:
            tail = (tmp_path / "controller.log").read_text(errors="replace")[-3000:]
            assert proc.poll() is None, f"controller exited ({proc.returncode}):\n{tail}"

        def metrics() -> str:
            with contextlib.suppress(httpx.HTTPError):
                answer = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5, trust_env=False)
                if answer.status_code == 200:
                    return answer.text
            return ""

        wait("app synced and healthy", lambda: env.synced_healthy(name, first), timeout=180, alive=alive)
        text = wait("a sync counted", lambda: (t := metrics()) and _total(t, "argocd_app_sync_total",
                    name=name, phase="Succeeded") >= 1 and t, alive=alive)  # fmt: skip
        assert git_server.password not in text
        assert f"{git_server.username}:" not in text

        # Git: ls-remote (resolving main) and fetch (the commit), per repository URL and type.
        repo = git_repo.http_url
        ls_remote = _total(text, "argocd_git_request_total", repo=repo, request_type="ls-remote")
        fetch = _total(text, "argocd_git_request_total", repo=repo, request_type="fetch")
        assert ls_remote >= 1 and fetch >= 1, _samples(text, "argocd_git_request_total")
        durations = _total(text, "argocd_git_request_duration_seconds_count", repo=repo)
        assert durations == ls_remote + fetch
        assert _total(text, "argocd_git_request_duration_seconds_bucket", repo=repo, le="+Inf") == durations
        assert not _samples(text, "argocd_git_fetch_fail_total")

        # Kubernetes requests of the app's reconcile and sync: the server-side apply of its ConfigMap.
        app_labels = {"namespace": ns, "name": name, "project": "default", "dry_run": "false"}
        applies = _total(
            text,
            "argocd_app_k8s_request_total",
            **app_labels,
            server=cp.server,
            verb="Patch",
            resource_kind="configmaps",
            resource_namespace=dest,
            response_code="200",
        )
        assert applies >= 1, [
            s for s, _ in _samples(text, "argocd_app_k8s_request_total") if s["name"] == name
        ]
        app_requests = _total(text, "argocd_app_k8s_request_total", **app_labels)
        verbs = {s["verb"] for s, _ in _samples(text, "argocd_app_k8s_request_total") if s["name"] == name}
        assert verbs <= {"Get", "List", "Watch", "Create", "Update", "Patch", "Delete"}, verbs
        # The live cache's lists and watches are cluster-level: no app labels.
        cache = _samples(text, "argocd_app_k8s_request_total")
        assert any(
            s["name"] == "" and s["verb"] == "Watch" and s["resource_kind"] == "configmaps" for s, _ in cache
        )
        assert any(
            s["name"] == "" and s["verb"] == "List" and s["resource_kind"] == "deployments" for s, _ in cache
        )

        # The cluster, as Argo CD reports the in-cluster destination.
        server = {"server": IN_CLUSTER}
        assert _samples(text, "argocd_cluster_info") == [
            ({**server, "k8s_version": k8s_version, "name": "in-cluster"}, 1.0)
        ]
        assert _samples(text, "argocd_cluster_connection_status") == [
            ({**server, "k8s_version": k8s_version}, 1.0)
        ]
        assert _total(text, "argocd_cluster_api_resources", **server) >= 20  # the built-in types at least
        assert _total(text, "argocd_cluster_api_resource_objects", **server) >= 10
        assert _total(text, "argocd_cluster_cache_age_seconds", **server) >= 0
        events = _total(text, "argocd_cluster_events_total", **server, group="", kind="ConfigMap")
        assert events >= 1  # at least the ConfigMap the sync created

        # A new commit and a refresh: resolved again, fetched, applied again.
        second = git_repo.commit_files(
            {"app/settings.yaml": _configmap("settings", {"v": "2"})}, "v2", replace=True
        )
        env.refresh(name)
        wait("v2 synced", lambda: env.synced_healthy(name, second), timeout=120, alive=alive)
        wait("ConfigMap at v2", lambda: env.data("settings", dest) == {"v": "2"}, alive=alive)

        def grown() -> str | None:
            t = metrics()
            ok = (
                _total(t, "argocd_git_request_total", repo=repo, request_type="ls-remote") > ls_remote
                and _total(t, "argocd_git_request_total", repo=repo, request_type="fetch") > fetch
                and _total(t, "argocd_app_k8s_request_total", **app_labels, verb="Patch",
                           resource_kind="configmaps", resource_namespace=dest) > applies
                and _total(t, "argocd_app_k8s_request_total", **app_labels) > app_requests
                and _total(t, "argocd_cluster_events_total", **server, group="", kind="ConfigMap") > events
            )  # fmt: skip
            return t if ok else None

        later = wait("counters grown", grown, alive=alive)
        assert git_server.password not in later
    cp.kubectl("delete", "namespace", dest, "--wait=false", check=False)
