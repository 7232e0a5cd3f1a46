"""Warm refresh of an unchanged 200-manifest source against a cold render of the same.

Cold: an empty Git cache, so ls-remote + fetch + checkout + render (directory of 200 manifests,
and a Kustomize variant). Warm: a refresh of the same branch (`refresh=True`), which costs one
ls-remote and a cache hit. Target: warm <= 50 ms. Measured against two servers: the test HTTP
server (git http-backend behind Basic auth) and `git daemon`. Prints both figures and their ratio, and, as a
baseline from the same run, a plain `git ls-remote` against the same server: most of a warm refresh
is that round trip (the test server starts `git http-backend` for every request).
"""

from __future__ import annotations

import functools
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import anyio

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from argosy.adapters.git import GitClient
from argosy.adapters.localcluster import toolchain
from argosy.adapters.render import RenderTools, render_source
from argosy.bootstrap import GitDaemon
from argosy.core.manifests import parse_manifests
from argosy.model.repository import RepoCredentials
from argosy.model.source import ApplicationSource
from argosy.services.repo import DesiredStateRequest, RepoService
from tests.support.gitserver import GitServer

FILES = 200
WARM_RUNS = 30


def config_map(i: int) -> str:
    return (
        f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings-{i:03d}\n"
        f"data:\n  index: '{i}'\n  payload: {'x' * 512}\n"
    )


def measure(
    label: str,
    path: str,
    repo_url: str,
    creds: RepoCredentials | None,
    baseline_env: dict[str, str],
    tools: RenderTools,
    tmp: Path,
) -> None:
    render = functools.partial(render_source, tools=tools, parse=parse_manifests)
    source = ApplicationSource.from_dict({"repoURL": repo_url, "targetRevision": "main", "path": path})
    request = DesiredStateRequest(app_name="bench", namespace="bench", sources=(source,))

    cold_times = []
    for run in range(3):
        git = GitClient(tmp / f"{label}-cold-{run}")
        service = RepoService(git, render, tool_versions={}, credentials=lambda _u: creds)
        started = time.perf_counter()
        state = anyio.run(service.desired_state, request)
        cold_times.append(time.perf_counter() - started)
        assert len(state.manifests) == FILES and not state.from_cache

    warm_times = []
    for _ in range(WARM_RUNS):
        started = time.perf_counter()
        state = anyio.run(functools.partial(service.desired_state, request, refresh=True))
        warm_times.append(time.perf_counter() - started)
        assert state.from_cache
    baseline_times = []
    env = {**os.environ, **baseline_env}
    for _ in range(WARM_RUNS):
        started = time.perf_counter()
        subprocess.run(["git", "ls-remote", repo_url, "main"], env=env, capture_output=True, check=True)
        baseline_times.append(time.perf_counter() - started)
    cold = statistics.median(cold_times)
    warm = statistics.median(warm_times)
    baseline = statistics.median(baseline_times)
    print(f"{label}: baseline `git ls-remote` against the same server (median) {baseline * 1000:.1f} ms")
    print(f"{label}: cold render (median of 3) {cold * 1000:.0f} ms")
    print(f"{label}: warm refresh, one ls-remote + cache hit (median of {WARM_RUNS}) {warm * 1000:.1f} ms")
    verdict = "met" if warm <= 0.05 else "missed"
    print(f"{label}: warm / cold = {warm / cold:.3f} (target warm <= 50 ms: {verdict})")
    print(f"{label}: warm / baseline ls-remote = {warm / baseline:.2f}")


def main() -> None:
    built = toolchain.ensure_toolchain(lambda m: print(m, file=sys.stderr))
    tools = RenderTools(helm=built.binary("helm"), kubectl=built.binary("kubectl"))
    with tempfile.TemporaryDirectory() as tmp_name, GitServer(Path(tmp_name) / "server") as server:
        tmp = Path(tmp_name)
        repo = server.create_repo("bench-200")
        files = {f"manifests/cm-{i:03d}.yaml": config_map(i) for i in range(FILES)}
        # Kustomize loads files only from below the kustomization, so the variant has its own copies.
        files |= {f"kustomized/cm-{i:03d}.yaml": config_map(i) for i in range(FILES)}
        files["kustomized/kustomization.yaml"] = "resources:\n" + "".join(
            f"- cm-{i:03d}.yaml\n" for i in range(FILES)
        )
        repo.commit_files(files, "200 manifests")
        creds = RepoCredentials(url=repo.http_url, username=server.username, password=server.token)
        auth_env = server.http_auth_env()
        measure("http/directory", "manifests", repo.http_url, creds, auth_env, tools, tmp)
        measure("http/kustomize", "kustomized", repo.http_url, creds, auth_env, tools, tmp)
        # The same repository from `git daemon` (the server the main job uses): a server that
        # answers a ref advertisement in milliseconds, so the figure is mostly Argosy's own cost.
        daemon = GitDaemon(server.repos_dir).start()
        try:
            url = f"{daemon.url}/{repo.path.name}"
            measure("git-daemon/directory", "manifests", url, None, {}, tools, tmp)
            measure("git-daemon/kustomize", "kustomized", url, None, {}, tools, tmp)
        finally:
            daemon.stop()


if __name__ == "__main__":
    main()
