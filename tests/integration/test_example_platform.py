"""examples/sophia-platform, served from the real Git server and rendered through the RepoService.

The whole directory is committed to a served repository; every Application in
``argocd/applications`` is parsed with ``sources_of_spec`` and rendered by Argosy (Kustomize,
Helm, plain directory) with the placeholder repoURL replaced by the served repository's URL, as
the bootstrap does.
"""

from __future__ import annotations

import fnmatch
import functools
import json
from pathlib import Path
from typing import Any

import anyio
import pytest
from typer.testing import CliRunner

import argosy.cli.main  # noqa: F401  (registers the command modules)
from argosy.adapters.git import GitClient
from argosy.adapters.localcluster import toolchain
from argosy.adapters.render import RenderTools, render_source
from argosy.cli.groups import app as cli
from argosy.core.manifests import parse_manifests
from argosy.model.repository import RepoCredentials
from argosy.model.source import ApplicationSource, sources_of_spec
from argosy.services.repo import DesiredStateRequest, RepoService
from tests.support.gitserver import GitServer

pytestmark = pytest.mark.integration

PLATFORM = Path(__file__).resolve().parents[2] / "examples" / "sophia-platform"
PLACEHOLDER_REPO = "http://git.argosy.local/sophia-platform.git"
ENVIRONMENTS = ("development", "staging", "production")
CLUSTER_SCOPED = {
    "Namespace",
    "ClusterRole",
    "ClusterRoleBinding",
    "CustomResourceDefinition",
    "StorageClass",
}
HOOKS = {
    "database-migration": ("PreSync", "10"),
    "smoke-tests": ("PostSync", "20"),
}


class Rendered:
    """One Application of the example and the objects Argosy rendered for it."""

    def __init__(self, application: dict[str, Any], manifests: tuple[dict[str, Any], ...]) -> None:
        self.application = application
        self.manifests = manifests

    def find(self, kind: str, name: str | None = None) -> dict[str, Any]:
        (found,) = [
            m for m in self.manifests if m["kind"] == kind and (name is None or m["metadata"]["name"] == name)
        ]
        return found


def _load(directory: str) -> dict[str, dict[str, Any]]:
    found = {}
    for path in sorted((PLATFORM / "argocd" / directory).glob("*.yaml")):
        (obj,) = parse_manifests(path.read_text(encoding="utf-8"), file=path.name)
        found[obj["metadata"]["name"]] = obj
    return found


def _served_source(source: ApplicationSource, url: str) -> ApplicationSource:
    """The source with the placeholder repoURL replaced, as the bootstrap does."""
    data = source.to_dict()
    assert data["repoURL"] == PLACEHOLDER_REPO
    return ApplicationSource.from_dict({**data, "repoURL": url})


@pytest.fixture(scope="module")
def rendered(git_server: GitServer, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Rendered]:
    repo = git_server.create_repo(f"sophia-platform-{tmp_path_factory.mktemp('id').name}")
    repo.commit_directory(PLATFORM, "the sophia-platform example")
    built = toolchain.ensure_toolchain(lambda _m: None)
    tools = RenderTools(helm=built.binary("helm"), kubectl=built.binary("kubectl"))
    creds = RepoCredentials(
        url=git_server.http_base_url, username=git_server.username, password=git_server.token
    )
    service = RepoService(
        GitClient(tmp_path_factory.mktemp("git-cache")),
        functools.partial(render_source, tools=tools, parse=parse_manifests),
        tool_versions={"test": "1"},
        credentials=lambda _url: creds,
    )
    result = {}
    for name, application in _load("applications").items():
        spec = application["spec"]
        sources = tuple(_served_source(s, repo.http_url) for s in sources_of_spec(spec))
        request = DesiredStateRequest(
            app_name=name, namespace=spec["destination"]["namespace"], sources=sources
        )
        state = anyio.run(service.desired_state, request)
        result[name] = Rendered(application, state.manifests)
    return result


def _namespace_allowed(project: dict[str, Any], server: str, namespace: str) -> bool:
    """Argo CD's destination check: some destination matches both server and namespace (globs)."""
    return any(
        fnmatch.fnmatchcase(server, d.get("server", "*"))
        and fnmatch.fnmatchcase(namespace, d.get("namespace", ""))
        for d in project["spec"]["destinations"]
    )


def _kind_listed(rules: list[dict[str, str]], group: str, kind: str, name: str = "") -> bool:
    return any(
        fnmatch.fnmatchcase(group, r["group"])
        and fnmatch.fnmatchcase(kind, r["kind"])
        and fnmatch.fnmatchcase(name, r.get("name", "*"))
        for r in rules
    )


def _group(obj: dict[str, Any]) -> str:
    api_version: str = obj["apiVersion"]
    return api_version.rpartition("/")[0]


def test_every_application_renders(rendered: dict[str, Rendered]) -> None:
    assert len(rendered) == 8
    for name, item in rendered.items():
        assert len(item.manifests) >= 1, name
        assert all(m["kind"] and m["metadata"]["name"] for m in item.manifests)


def test_rendered_objects_stay_inside_their_project(rendered: dict[str, Rendered]) -> None:
    projects = _load("projects")
    for name, item in rendered.items():
        spec = item.application["spec"]
        project = projects[spec["project"]]
        server, default_namespace = spec["destination"]["server"], spec["destination"]["namespace"]
        whitelist = project["spec"].get("namespaceResourceWhitelist", [])
        blacklist = project["spec"].get("namespaceResourceBlacklist", [])
        for obj in item.manifests:
            where = f"{name}: {obj['kind']}/{obj['metadata']['name']}"
            if obj["kind"] in CLUSTER_SCOPED:
                assert "namespace" not in obj["metadata"], where
                rules = project["spec"].get("clusterResourceWhitelist", [])
                assert _kind_listed(rules, _group(obj), obj["kind"], obj["metadata"]["name"]), where
                continue
            namespace = obj["metadata"].get("namespace") or default_namespace
            assert _namespace_allowed(project, server, namespace), f"{where} in {namespace}"
            assert _kind_listed(whitelist, _group(obj), obj["kind"]), where
            assert not _kind_listed(blacklist, _group(obj), obj["kind"]), where


def test_namespaces_app_precreates_the_production_namespaces(rendered: dict[str, Rendered]) -> None:
    item = rendered["infrastructure-namespaces"]
    assert {m["metadata"]["name"] for m in item.manifests if m["kind"] == "Namespace"} == {
        "artemis-system",
        "sophia-system",
        "monitoring",
    }
    production = {
        rendered[f"{app}-production"].application["spec"]["destination"]["namespace"]
        for app in ("artemis-orchestrator", "sophia-api")
    }
    assert production <= {m["metadata"]["name"] for m in item.manifests}
    assert rendered["infrastructure-monitoring"].find("ConfigMap", "argocd-dashboard")["metadata"][
        "namespace"
    ] == ("monitoring")


def _replicas(item: Rendered) -> int:
    replicas: int = item.find("Deployment")["spec"]["replicas"]
    return replicas


def _image(item: Rendered) -> str:
    image: str = item.find("Deployment")["spec"]["template"]["spec"]["containers"][0]["image"]
    return image


def test_production_has_more_replicas_and_its_own_image(rendered: dict[str, Rendered]) -> None:
    for app in ("artemis-orchestrator", "sophia-api"):
        dev, staging, prod = (rendered[f"{app}-{env}"] for env in ENVIRONMENTS)
        assert _replicas(prod) > _replicas(staging) > _replicas(dev) >= 1, app
        assert _image(prod) != _image(dev), app
        assert _image(prod).startswith(f"ghcr.io/sophia-intel-ai/{app}:")
        for env, item in zip(ENVIRONMENTS, (dev, staging, prod), strict=True):
            namespace = item.application["spec"]["destination"]["namespace"]
            for obj in item.manifests:
                assert obj["metadata"]["namespace"] == namespace
                assert obj["metadata"]["labels"]["environment"] == env
                assert (
                    obj["metadata"]["labels"]["app.kubernetes.io/part-of"]
                    == item.application["metadata"]["labels"]["app.kubernetes.io/part-of"]
                )


def test_artemis_hooks_and_waves(rendered: dict[str, Rendered]) -> None:
    for env in ENVIRONMENTS:
        item = rendered[f"artemis-orchestrator-{env}"]
        for name, (hook, weight) in HOOKS.items():
            job = item.find("Job", name)
            annotations = job["metadata"]["annotations"]
            assert annotations["argocd.argoproj.io/hook"] == hook
            assert annotations["argocd.argoproj.io/hook-weight"] == weight
            assert annotations["argocd.argoproj.io/sync-wave"] == weight
            assert annotations["argocd.argoproj.io/hook-delete-policy"] == "HookSucceeded"
            assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"
            assert not any("fail" in key.lower() for key in job["metadata"].get("labels", {}))
        waves = {
            m["kind"]: m["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"]
            for m in item.manifests
            if m["kind"] != "Job"
        }
        assert waves == {"ConfigMap": "0", "Deployment": "1", "Service": "2"}
        migrate = item.find("Job", "database-migration")["spec"]["template"]["spec"]["containers"][0]
        assert migrate["image"] == "ghcr.io/sophia-intel-ai/db-migrator:v1.0.0"
        assert migrate["command"] == ["migrate", "--up"]


def test_helm_values_differ_per_environment(rendered: dict[str, Rendered]) -> None:
    configs = {env: rendered[f"sophia-api-{env}"].find("ConfigMap")["data"] for env in ENVIRONMENTS}
    assert [configs[env]["LOG_LEVEL"] for env in ENVIRONMENTS] == ["debug", "info", "warn"]
    assert [configs[env]["SOPHIA_ENVIRONMENT"] for env in ENVIRONMENTS] == list(ENVIRONMENTS)
    assert (
        configs["production"]["ARTEMIS_URL"]
        == "http://artemis-orchestrator.artemis-system.svc.cluster.local:8080"
    )
    for env in ENVIRONMENTS:
        item = rendered[f"sophia-api-{env}"]
        # helm.releaseName keeps the object names stable across environments.
        assert {m["metadata"]["name"] for m in item.manifests} == {"sophia-api", "sophia-api-config"}
        waves = {
            m["kind"]: m["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"] for m in item.manifests
        }
        assert waves == {"ConfigMap": "0", "Deployment": "1", "Service": "2"}
    prod, dev = rendered["sophia-api-production"], rendered["sophia-api-development"]
    prod_resources = prod.find("Deployment")["spec"]["template"]["spec"]["containers"][0]["resources"]
    dev_resources = dev.find("Deployment")["spec"]["template"]["spec"]["containers"][0]["resources"]
    assert prod_resources != dev_resources
    assert (
        prod.find("Deployment")["spec"]["template"]["metadata"]["annotations"]["checksum/config"]
        != (dev.find("Deployment")["spec"]["template"]["metadata"]["annotations"]["checksum/config"])
    )


def test_sync_plan_of_artemis_production(rendered: dict[str, Rendered], tmp_path: Path) -> None:
    manifests = tmp_path / "artemis-production.json"
    manifests.write_text(
        json.dumps({"kind": "List", "items": list(rendered["artemis-orchestrator-production"].manifests)})
    )
    result = CliRunner().invoke(cli, ["admin", "sync-plan", str(manifests), "-o", "json"])
    assert result.exit_code == 0, result.output
    tasks = json.loads(result.stdout)
    order = [(t["phase"], t["kind"], t["name"]) for t in tasks]
    assert order == [
        ("PreSync", "Job", "database-migration"),
        ("Sync", "ConfigMap", "artemis-orchestrator-config"),
        ("Sync", "Deployment", "artemis-orchestrator"),
        ("Sync", "Service", "artemis-orchestrator"),
        ("PostSync", "Job", "smoke-tests"),
    ]
    assert [t["wave"] for t in tasks] == [10, 0, 1, 2, 20]
    assert {t["namespace"] for t in tasks} == {"artemis-system"}
    assert [t["hookType"] for t in tasks] == ["PreSync", None, None, None, "PostSync"]
    assert tasks[0]["deletePolicies"] == tasks[-1]["deletePolicies"] == ["HookSucceeded"]
