"""The desired-state service end to end: the real Git server, the git CLI, Kustomize and Helm."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from argosy.adapters.git import GitClient, GitError
from argosy.adapters.localcluster import toolchain
from argosy.adapters.render import RenderError, RenderTools, render_source
from argosy.core.manifests import parse_manifests
from argosy.model.repository import RepoCredentials
from argosy.model.source import ApplicationSource
from argosy.services.repo import DesiredStateRequest, RepoService
from tests.support.gitserver import BareRepo, GitServer

pytestmark = pytest.mark.integration

BASE_DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: orchestrator
spec:
  replicas: 1
  selector: {matchLabels: {app: orchestrator}}
  template:
    metadata: {labels: {app: orchestrator}}
    spec:
      containers:
      - name: app
        image: ghcr.io/sophia-intel-ai/orchestrator:v1.0.0
"""
SERVICE = """\
apiVersion: v1
kind: Service
metadata: {name: orchestrator}
spec:
  selector: {app: orchestrator}
  ports: [{port: 8080}]
"""


@pytest.fixture(scope="module")
def tools() -> RenderTools:
    built = toolchain.ensure_toolchain(lambda _m: None)
    return RenderTools(helm=built.binary("helm"), kubectl=built.binary("kubectl"))


@pytest.fixture
def service(
    tmp_path: Path, git_server: GitServer, tools: RenderTools
) -> Iterator[tuple[RepoService, GitClient]]:
    git = GitClient(tmp_path / "git-cache")
    creds = RepoCredentials(
        url=git_server.http_base_url, username=git_server.username, password=git_server.token
    )
    render = functools.partial(render_source, tools=tools, parse=parse_manifests)
    yield (
        RepoService(git, render, tool_versions={"test": "1"}, credentials=lambda _url: creds),
        git,
    )


def _by_kind(manifests: tuple[dict[str, Any], ...]) -> dict[str, dict[str, Any]]:
    return {m["kind"]: m for m in manifests}


def _overlay_repo(git_repo: BareRepo) -> str:
    return git_repo.commit_files(
        {
            "base/deployment.yaml": BASE_DEPLOYMENT,
            "base/service.yaml": SERVICE,
            "base/kustomization.yaml": "resources: [deployment.yaml, service.yaml]\n",
            "overlays/production/kustomization.yaml": (
                "resources: [../../base]\nnamespace: artemis-system\nnamePrefix: prod-\n"
                "labels:\n- pairs: {environment: production}\n"
            ),
        },
        "overlays",
    )


def test_kustomize_overlay_with_image_override(
    git_repo: BareRepo, service: tuple[RepoService, GitClient]
) -> None:
    sha = _overlay_repo(git_repo)
    repo_service, _git = service
    source = ApplicationSource.from_dict(
        {
            "repoURL": git_repo.http_url,
            "targetRevision": "main",
            "path": "overlays/production",
            "kustomize": {"images": ["ghcr.io/sophia-intel-ai/orchestrator:v1.2.0"]},
        }
    )
    request = DesiredStateRequest(app_name="artemis-prod", namespace="artemis-system", sources=(source,))
    state = anyio.run(repo_service.desired_state, request)
    objects = _by_kind(state.manifests)
    assert set(objects) == {"Deployment", "Service"}
    deployment = objects["Deployment"]
    assert deployment["metadata"]["name"] == "prod-orchestrator"
    assert deployment["metadata"]["namespace"] == "artemis-system"
    assert deployment["metadata"]["labels"]["environment"] == "production"
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "ghcr.io/sophia-intel-ai/orchestrator:v1.2.0"
    assert state.revisions == (sha,)
    assert state.from_cache is False


def test_refresh_of_unchanged_revision_costs_one_ls_remote(
    git_repo: BareRepo, service: tuple[RepoService, GitClient]
) -> None:
    _overlay_repo(git_repo)
    repo_service, git = service
    source = ApplicationSource.from_dict(
        {"repoURL": git_repo.http_url, "targetRevision": "main", "path": "overlays/production"}
    )
    request = DesiredStateRequest(app_name="a", namespace="artemis-system", sources=(source,))
    first = anyio.run(repo_service.desired_state, request)
    before = (git.stats.ls_remote, git.stats.fetch, git.stats.checkout, repo_service.stats.renders)
    again = anyio.run(functools.partial(repo_service.desired_state, request, refresh=True))
    after = (git.stats.ls_remote, git.stats.fetch, git.stats.checkout, repo_service.stats.renders)
    assert again.from_cache is True
    assert again.manifests == first.manifests
    assert after[0] == before[0] + 1, "a refresh re-resolves the branch with exactly one ls-remote"
    assert after[1:] == before[1:], "no fetch, no checkout and no render for an unchanged revision"
    # A hard refresh renders again.
    anyio.run(functools.partial(repo_service.desired_state, request, hard_refresh=True))
    assert repo_service.stats.renders == before[3] + 1


def test_new_commit_is_rendered_after_mark_stale(
    git_repo: BareRepo, service: tuple[RepoService, GitClient]
) -> None:
    _overlay_repo(git_repo)
    repo_service, _git = service
    source = ApplicationSource.from_dict(
        {"repoURL": git_repo.http_url, "targetRevision": "main", "path": "base"}
    )
    request = DesiredStateRequest(app_name="a", namespace="default", sources=(source,))
    first = anyio.run(repo_service.desired_state, request)
    new_sha = git_repo.commit_files(
        {"base/deployment.yaml": BASE_DEPLOYMENT.replace("replicas: 1", "replicas: 4")}, "scale"
    )
    repo_service.mark_stale(git_repo.http_url, "main")
    second = anyio.run(repo_service.desired_state, request)
    assert second.revisions == (new_sha,) != first.revisions
    assert _by_kind(second.manifests)["Deployment"]["spec"]["replicas"] == 4


def test_helm_chart_with_values_from_a_second_source(
    git_server: GitServer, service: tuple[RepoService, GitClient]
) -> None:
    charts = git_server.create_repo("charts-multi")
    values = git_server.create_repo("values-multi")
    charts.commit_files(
        {
            "charts/web/Chart.yaml": "apiVersion: v2\nname: web\nversion: 0.1.0\n",
            "charts/web/values.yaml": "replicas: 1\nimage: nginx:1.27\n",
            "charts/web/templates/deploy.yaml": (
                "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ .Release.Name }}-web\n"
                "spec:\n  replicas: {{ .Values.replicas }}\n  selector: {matchLabels: {app: web}}\n"
                "  template:\n    metadata: {labels: {app: web}}\n"
                "    spec: {containers: [{name: web, image: {{ .Values.image | quote }}}]}\n"
            ),
        },
        "chart",
    )
    values.commit_files({"envs/prod.yaml": "replicas: 5\nimage: nginx:1.28\n"}, "prod values")
    repo_service, _git = service
    sources = (
        ApplicationSource.from_dict(
            {
                "repoURL": charts.http_url,
                "targetRevision": "main",
                "path": "charts/web",
                "helm": {"releaseName": "sophia", "valueFiles": ["$values/envs/prod.yaml"]},
            }
        ),
        ApplicationSource.from_dict({"repoURL": values.http_url, "targetRevision": "main", "ref": "values"}),
    )
    request = DesiredStateRequest(app_name="sophia", namespace="sophia", sources=sources)
    state = anyio.run(repo_service.desired_state, request)
    (deployment,) = state.manifests
    assert deployment["metadata"]["name"] == "sophia-web"
    assert deployment["spec"]["replicas"] == 5
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.28"
    assert len(state.revisions) == 2


def test_render_error_is_raised_and_nothing_cached(
    git_repo: BareRepo, service: tuple[RepoService, GitClient]
) -> None:
    git_repo.commit_files({"app/kustomization.yaml": "resources: [../../outside]\n"}, "escapes the repo")
    repo_service, _git = service
    source = ApplicationSource.from_dict(
        {"repoURL": git_repo.http_url, "targetRevision": "main", "path": "app"}
    )
    request = DesiredStateRequest(app_name="bad", namespace="default", sources=(source,))
    with pytest.raises(RenderError):
        anyio.run(repo_service.desired_state, request)
    assert repo_service.stats.renders == 0


def test_wrong_token_names_the_repository(git_repo: BareRepo, tmp_path: Path, tools: RenderTools) -> None:
    _overlay_repo(git_repo)
    git = GitClient(tmp_path / "cache")
    wrong = RepoCredentials(url=git_repo.http_url, username="git", password="not-the-token-123")
    repo_service = RepoService(
        git,
        functools.partial(render_source, tools=tools, parse=parse_manifests),
        tool_versions={},
        credentials=lambda _url: wrong,
    )
    source = ApplicationSource.from_dict(
        {"repoURL": git_repo.http_url, "targetRevision": "main", "path": "base"}
    )
    with pytest.raises(GitError) as caught:
        anyio.run(
            repo_service.desired_state, DesiredStateRequest(app_name="a", namespace="d", sources=(source,))
        )
    message = str(caught.value)
    assert git_repo.name in message
    assert "authentication failed" in message.lower()
    assert "not-the-token-123" not in message
