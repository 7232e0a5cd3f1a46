"""Rendering sources into manifests with the real helm and kubectl (Kustomize) binaries.

Helm charts come from a chart directory in a checkout, from a Helm repository served on
127.0.0.1 and from an OCI registry (Debian's docker-registry) on 127.0.0.1. Every rejection
checked here is documented in docs/rendering.md.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from argosy.adapters.localcluster import toolchain
from argosy.adapters.render import (
    HelmRepositoryAccess,
    RenderError,
    RenderLimits,
    RenderResult,
    RenderTools,
    ToolKind,
    detect_tool,
    glob_match,
    image_override,
    render_source,
    tool_versions,
)
from argosy.core.manifests import parse_manifests
from argosy.model.source import ApplicationSource, SourceError, sources_of_spec
from tests.support.helmrepo import HelmRepoServer, OciRegistry, helm_env, package_chart, write_chart

REPO_URL = "http://127.0.0.1/example/apps.git"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def render_tools() -> RenderTools:
    bin_dir = toolchain.ensure_toolchain().bin_dir
    return RenderTools(helm=bin_dir / "helm", kubectl=bin_dir / "kubectl")


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def tree_digest(root: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        h.update(str(path.relative_to(root)).encode())
        if path.is_file():
            h.update(path.read_bytes())
    return h.hexdigest()


def by_kind(result: RenderResult) -> dict[tuple[str, str], dict[str, Any]]:
    return {(m["kind"], m["metadata"]["name"]): m for m in result.manifests}


async def render(
    tools: RenderTools,
    repo: Path | None,
    source: dict[str, Any],
    *,
    app: str = "demo",
    namespace: str = "demo-ns",
    refs: dict[str, Path] | None = None,
    limits: RenderLimits | None = None,
    **kwargs: Any,
) -> RenderResult:
    return await render_source(
        repo_root=repo,
        source=ApplicationSource.from_dict({"repoURL": REPO_URL, **source}),
        app_name=app,
        namespace=namespace,
        ref_roots=refs or {},
        tools=tools,
        parse=parse_manifests,
        limits=limits or RenderLimits(),
        **kwargs,
    )


DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 1
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: nginx:1.25
"""
SERVICE = """\
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector: {app: web}
  ports: [{port: 80}]
"""


# --------------------------------------------------------------------------- Kustomize


@pytest.mark.integration
@pytest.mark.anyio
async def test_kustomize_overlay_with_overrides(render_tools: RenderTools, tmp_path: Path) -> None:
    repo = write(
        tmp_path / "repo",
        {
            "base/kustomization.yaml": "resources: [deployment.yaml, service.yaml]\n",
            "base/deployment.yaml": DEPLOYMENT,
            "base/service.yaml": SERVICE,
            "overlays/prod/kustomization.yaml": (
                "resources: [../../base]\nnamePrefix: prod-\nlabels:\n- pairs: {env: prod}\n"
            ),
        },
    )
    before = tree_digest(repo)
    result = await render(
        render_tools,
        repo,
        {
            "path": "overlays/prod",
            "kustomize": {
                "images": ["nginx=registry.example/nginx:1.27.1"],
                "nameSuffix": "-v2",
                "commonLabels": {"team": "payments"},
                "commonAnnotations": {"owner": "alice"},
                "replicas": [{"name": "prod-web", "count": 3}],
                "namespace": "payments",
            },
        },
    )
    assert result.tool is ToolKind.KUSTOMIZE
    assert result.tool_version.startswith("kustomize v5.")
    objs = by_kind(result)
    assert set(objs) == {("Deployment", "prod-web-v2"), ("Service", "prod-web-v2")}
    deploy = objs[("Deployment", "prod-web-v2")]
    assert deploy["metadata"]["namespace"] == "payments"
    assert deploy["metadata"]["labels"] == {"env": "prod", "team": "payments"}
    assert deploy["metadata"]["annotations"] == {"owner": "alice"}
    assert deploy["spec"]["replicas"] == 3
    assert deploy["spec"]["selector"]["matchLabels"] == {"app": "web", "team": "payments"}
    assert deploy["spec"]["template"]["metadata"]["labels"]["team"] == "payments"
    assert deploy["spec"]["template"]["spec"]["containers"][0]["image"] == "registry.example/nginx:1.27.1"
    assert tree_digest(repo) == before, "the checkout must not be modified"


@pytest.mark.integration
@pytest.mark.anyio
async def test_kustomize_without_overrides_and_label_without_selector(
    render_tools: RenderTools, tmp_path: Path
) -> None:
    repo = write(
        tmp_path / "repo",
        {"app/Kustomization": "resources: [deployment.yaml]\n", "app/deployment.yaml": DEPLOYMENT},
    )
    plain = await render(render_tools, repo, {"path": "app"})
    assert plain.manifests[0]["metadata"]["name"] == "web"
    labelled = await render(
        render_tools,
        repo,
        {"path": "app", "kustomize": {"commonLabels": {"x": "y"}, "labelWithoutSelector": True}},
    )
    deploy = labelled.manifests[0]
    assert deploy["metadata"]["labels"] == {"x": "y"}
    assert deploy["spec"]["selector"]["matchLabels"] == {"app": "web"}


@pytest.mark.integration
@pytest.mark.anyio
async def test_kustomize_build_error_is_a_render_error(render_tools: RenderTools, tmp_path: Path) -> None:
    repo = write(tmp_path / "repo", {"app/kustomization.yaml": "resources: [missing.yaml]\n"})
    with pytest.raises(RenderError, match=r"^demo: kustomize build failed: .*missing.yaml"):
        await render(render_tools, repo, {"path": "app"})


# --------------------------------------------------------------------------- Helm

CHART_TEMPLATES = {
    "deployment.yaml": """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}-web
  namespace: {{ .Release.Namespace }}
  annotations:
    kube-version: {{ .Capabilities.KubeVersion.Version | quote }}
    has-rollouts: {{ .Capabilities.APIVersions.Has "argoproj.io/v1alpha1/Rollout" | quote }}
    env: {{ .Values.env | quote }}
    tag: {{ .Values.image.tag | quote }}
    build: {{ .Values.build | quote }}
    kind-of-build: {{ kindOf .Values.build | quote }}
    inline: {{ .Values.inline | quote }}
spec:
  replicas: {{ .Values.replicaCount }}
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: "nginx:{{ .Values.image.tag }}"
""",
}
CRD = """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  names: {kind: Widget, plural: widgets, singular: widget}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}
"""
CHART_VALUES = "replicaCount: 1\nenv: default\nimage:\n  tag: '1.25'\nbuild: '0'\ninline: none\n"


@pytest.mark.integration
@pytest.mark.anyio
async def test_helm_chart_with_values_from_a_ref_source(render_tools: RenderTools, tmp_path: Path) -> None:
    repo = tmp_path / "charts-repo"
    write_chart(
        repo / "charts",
        "web",
        "0.1.0",
        CHART_TEMPLATES,
        **{"values.yaml": CHART_VALUES, "crds/crd.yaml": CRD},
    )
    write(repo, {"charts/web/values-common.yaml": "image:\n  tag: '1.26'\n"})
    values_repo = write(tmp_path / "values-repo", {"envs/prod.yaml": "env: prod\nreplicaCount: 4\n"})
    spec = {
        "sources": [
            {
                "repoURL": REPO_URL,
                "path": "charts/web",
                "helm": {
                    "releaseName": "shop",
                    "valueFiles": [
                        "values-common.yaml",
                        "$values/envs/prod.yaml",
                        "$values/envs/missing.yaml",
                    ],
                    "ignoreMissingValueFiles": True,
                    "valuesObject": {"inline": "from-values-object"},
                    "parameters": [
                        {"name": "build", "value": "42", "forceString": True},
                        {"name": "image.tag", "value": "1.27"},
                    ],
                },
            },
            {"repoURL": "http://127.0.0.1/example/values.git", "ref": "values"},
        ]
    }
    chart_source, values_source = sources_of_spec(spec)
    assert values_source.ref == "values"
    before = tree_digest(repo)
    result = await render_source(
        repo_root=repo,
        source=chart_source,
        app_name="shop-prod",
        namespace="shop",
        ref_roots={"values": values_repo},
        tools=render_tools,
        parse=parse_manifests,
        limits=RenderLimits(),
        kube_version="1.36.3",
        api_versions=["argoproj.io/v1alpha1/Rollout"],
    )
    assert result.tool is ToolKind.HELM
    assert result.tool_version.startswith("helm v3.22")
    objs = by_kind(result)
    assert ("CustomResourceDefinition", "widgets.example.com") in objs  # --include-crds
    deploy = objs[("Deployment", "shop-web")]
    notes = deploy["metadata"]["annotations"]
    assert deploy["metadata"]["namespace"] == "shop"
    assert deploy["spec"]["replicas"] == 4  # from $values/envs/prod.yaml
    assert notes["env"] == "prod"
    assert notes["tag"] == "1.27"  # --set after the value files
    assert notes["build"] == "42"
    assert notes["kind-of-build"] == "string"  # forceString -> --set-string
    assert notes["inline"] == "from-values-object"
    assert notes["kube-version"] == "v1.36.3"
    assert notes["has-rollouts"] == "true"
    assert tree_digest(repo) == before

    skipped = await render(
        render_tools,
        repo,
        {"path": "charts/web", "helm": {"skipCrds": True, "values": "env: inline-string\n"}},
    )
    objs = by_kind(skipped)
    assert ("CustomResourceDefinition", "widgets.example.com") not in objs
    deploy = objs[("Deployment", "demo-web")]  # release name defaults to the application name
    assert deploy["metadata"]["namespace"] == "demo-ns"
    assert deploy["metadata"]["annotations"]["env"] == "inline-string"


@pytest.mark.integration
@pytest.mark.anyio
async def test_helm_chart_found_by_chart_yaml(render_tools: RenderTools, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    write_chart(repo, "web", "0.1.0", CHART_TEMPLATES, **{"values.yaml": CHART_VALUES})
    result = await render(render_tools, repo, {"path": "web"})
    assert result.tool is ToolKind.HELM
    assert by_kind(result)[("Deployment", "demo-web")]["spec"]["replicas"] == 1


@pytest.mark.integration
@pytest.mark.anyio
async def test_missing_value_file_and_unknown_ref(render_tools: RenderTools, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    write_chart(repo, "web", "0.1.0", CHART_TEMPLATES, **{"values.yaml": CHART_VALUES})
    with pytest.raises(RenderError, match=r"the value file 'nope.yaml' does not exist"):
        await render(render_tools, repo, {"path": "web", "helm": {"valueFiles": ["nope.yaml"]}})
    with pytest.raises(RenderError, match=r"names the source ref 'other', which is not defined"):
        await render(render_tools, repo, {"path": "web", "helm": {"valueFiles": ["$other/x.yaml"]}})


@pytest.fixture(scope="module")
def helm_repository(
    render_tools: RenderTools, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[HelmRepoServer]:
    work = tmp_path_factory.mktemp("helm-repo")
    env = helm_env(work / "home")
    server = HelmRepoServer(work / "served").start()
    try:
        for version, tag in (("1.0.0", "1.0"), ("1.1.0", "1.1")):
            chart = write_chart(
                work / f"src-{version}",
                "hello",
                version,
                CHART_TEMPLATES,
                **{"values.yaml": CHART_VALUES.replace("'1.25'", f"'{tag}'")},
            )
            server.add_chart(render_tools.helm, chart, env)
        yield server
    finally:
        server.stop()


@pytest.mark.integration
@pytest.mark.anyio
async def test_chart_from_a_helm_repository(
    render_tools: RenderTools, helm_repository: HelmRepoServer, tmp_path: Path
) -> None:
    values_repo = write(tmp_path / "values", {"prod.yaml": "replicaCount: 2\n"})
    result = await render(
        render_tools,
        None,
        {
            "repoURL": helm_repository.url,
            "chart": "hello",
            "targetRevision": "1.0.0",
            "helm": {"valueFiles": ["$v/prod.yaml"]},
        },
        refs={"v": values_repo},
    )
    deploy = by_kind(result)[("Deployment", "demo-web")]
    assert deploy["metadata"]["annotations"]["tag"] == "1.0"
    assert deploy["spec"]["replicas"] == 2
    latest = await render(render_tools, None, {"repoURL": helm_repository.url, "chart": "hello"})
    assert by_kind(latest)[("Deployment", "demo-web")]["metadata"]["annotations"]["tag"] == "1.1"
    with pytest.raises(RenderError, match=r"helm template failed: .*hello.*9\.9\.9"):
        await render(
            render_tools, None, {"repoURL": helm_repository.url, "chart": "hello", "targetRevision": "9.9.9"}
        )
    with pytest.raises(RenderError, match="is relative, but the chart comes from a Helm repository"):
        await render(
            render_tools,
            None,
            {"repoURL": helm_repository.url, "chart": "hello", "helm": {"valueFiles": ["values-prod.yaml"]}},
        )


@pytest.mark.integration
@pytest.mark.anyio
async def test_concurrent_renders_do_not_interfere(
    render_tools: RenderTools, helm_repository: HelmRepoServer
) -> None:
    async def one(version: str, app: str) -> RenderResult:
        source = {"repoURL": helm_repository.url, "chart": "hello", "targetRevision": version}
        return await render(render_tools, None, source, app=app)

    results = await asyncio.gather(*(one(v, f"app{i}") for i, v in enumerate(["1.0.0", "1.1.0"] * 3)))
    tags = [
        by_kind(r)[("Deployment", f"app{i}-web")]["metadata"]["annotations"]["tag"]
        for i, r in enumerate(results)
    ]
    assert tags == ["1.0", "1.1"] * 3


@pytest.fixture(scope="module")
def oci_registry(
    render_tools: RenderTools, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[OciRegistry]:
    work = tmp_path_factory.mktemp("oci")
    env = helm_env(work / "home")
    registry = OciRegistry(work / "registry").start()
    try:
        chart = write_chart(
            work / "src", "hello-oci", "2.0.0", CHART_TEMPLATES, **{"values.yaml": CHART_VALUES}
        )
        registry.push(
            render_tools.helm, package_chart(render_tools.helm, chart, work / "pkg", env), "charts", env
        )
        yield registry
    finally:
        registry.stop()


@pytest.mark.integration
@pytest.mark.anyio
async def test_chart_from_an_oci_registry(render_tools: RenderTools, oci_registry: OciRegistry) -> None:
    plain = HelmRepositoryAccess(plain_http=True)
    for repo_url in (f"oci://{oci_registry.host}/charts", f"{oci_registry.host}/charts"):
        result = await render(
            render_tools,
            None,
            {
                "repoURL": repo_url,
                "chart": "hello-oci",
                "targetRevision": "2.0.0",
                "helm": {"parameters": [{"name": "replicaCount", "value": "3"}]},
            },
            app="oci-app",
            helm_access=plain,
        )
        deploy = by_kind(result)[("Deployment", "oci-app-web")]
        assert deploy["spec"]["replicas"] == 3


# --------------------------------------------------------------------------- directories


@pytest.mark.integration
@pytest.mark.anyio
async def test_directory_recurse_include_exclude(render_tools: RenderTools, tmp_path: Path) -> None:
    cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {}\n"
    repo = write(
        tmp_path / "repo",
        {
            "app/a.yaml": cm.format("a") + "---\n" + cm.format("a2"),
            "app/b.yml": cm.format("b"),
            "app/c.json": '{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}',
            "app/README.md": "not a manifest",
            "app/values.yaml": "replicaCount: 3\nimage: {tag: latest}\n",  # unrelated YAML: ignored
            "app/sub/d.yaml": cm.format("d"),
            "app/sub/deeper/e.yaml": cm.format("e"),
            "app/skip/f.yaml": cm.format("f"),
        },
    )

    async def names(directory: dict[str, Any] | None = None) -> list[str]:
        source: dict[str, Any] = {"path": "app"}
        if directory is not None:
            source["directory"] = directory
        result = await render(render_tools, repo, source)
        assert result.tool is ToolKind.DIRECTORY
        return sorted(m["metadata"]["name"] for m in result.manifests)

    assert await names() == ["a", "a2", "b", "c"]
    assert await names({"recurse": True}) == ["a", "a2", "b", "c", "d", "e", "f"]
    assert await names({"recurse": True, "exclude": "skip/*"}) == ["a", "a2", "b", "c", "d", "e"]
    assert await names({"recurse": True, "include": "{*.yml,sub/*}"}) == ["b", "d", "e"]
    assert await names({"recurse": True, "include": "*.yaml", "exclude": "{a.yaml,sub/deeper/*}"}) == [
        "d",
        "f",
    ]


def test_glob_semantics() -> None:
    assert glob_match("*.yaml", "a.yaml")
    assert glob_match("*.yaml", "sub/a.yaml")  # like Argo CD, * also matches /
    assert glob_match("{config.json,env-use2/*}", "env-use2/x.yaml")
    assert not glob_match("{config.json,env-use2/*}", "env-use1/x.yaml")


def test_image_override_forms() -> None:
    assert image_override("nginx:1.2") == {"name": "nginx", "newTag": "1.2"}
    assert image_override("nginx=reg:5000/nginx:1.2") == {
        "name": "nginx",
        "newName": "reg:5000/nginx",
        "newTag": "1.2",
    }
    assert image_override("reg:5000/nginx") == {"name": "reg:5000/nginx"}
    assert image_override("nginx@sha256:abc") == {"name": "nginx", "digest": "sha256:abc"}


# --------------------------------------------------------------------------- rejections


@pytest.mark.integration
@pytest.mark.anyio
async def test_paths_leaving_the_repository_are_rejected(render_tools: RenderTools, tmp_path: Path) -> None:
    write(tmp_path / "outside", {"secret.yaml": "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\n"})
    repo = tmp_path / "repo"
    write_chart(repo, "web", "0.1.0", CHART_TEMPLATES, **{"values.yaml": CHART_VALUES})
    write(repo, {"app/ok.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ok}\n"})

    with pytest.raises(
        RenderError, match=r"^demo: the source path '../outside' resolves outside the repository$"
    ):
        await render(render_tools, repo, {"path": "../outside"})
    with pytest.raises(RenderError, match="the source path '/etc' is an absolute path"):
        await render(render_tools, repo, {"path": "/etc"})
    with pytest.raises(RenderError, match=r"the value file '../../outside/secret.yaml' resolves outside"):
        await render(
            render_tools, repo, {"path": "web", "helm": {"valueFiles": ["../../outside/secret.yaml"]}}
        )
    with pytest.raises(
        RenderError, match=r"the value file '../../etc/passwd' resolves outside the repository"
    ):
        await render(
            render_tools,
            repo,
            {"path": "web", "helm": {"valueFiles": ["$v/../../etc/passwd"]}},
            refs={"v": repo},
        )
    with pytest.raises(RenderError, match=r"the value file '/etc/passwd' is an absolute path"):
        await render(render_tools, repo, {"path": "web", "helm": {"valueFiles": ["/etc/passwd"]}})
    with pytest.raises(RenderError, match=r"the value file 'https://example.com/v.yaml' is remote"):
        await render(
            render_tools, repo, {"path": "web", "helm": {"valueFiles": ["https://example.com/v.yaml"]}}
        )
    # `..` that stays inside the repository is fine, as in Argo CD
    result = await render(render_tools, repo, {"path": "web/../app"})
    assert [m["metadata"]["name"] for m in result.manifests] == ["ok"]


@pytest.mark.integration
@pytest.mark.anyio
async def test_kustomize_bases_outside_the_repository_are_rejected(
    render_tools: RenderTools, tmp_path: Path
) -> None:
    write(
        tmp_path / "outside",
        {
            "kustomization.yaml": "resources: [secret.yaml]\n",
            "secret.yaml": "apiVersion: v1\nkind: Secret\nmetadata: {name: stolen}\n",
        },
    )
    repo = write(
        tmp_path / "repo",
        {
            "app/kustomization.yaml": "resources: [../base, deployment.yaml]\n",
            "app/deployment.yaml": DEPLOYMENT,
            "base/kustomization.yaml": "resources: [../../outside]\n",
        },
    )
    with pytest.raises(
        RenderError,
        match=r"^demo: base/kustomization.yaml refers to '../../outside', which resolves outside the repo",
    ):
        await render(render_tools, repo, {"path": "app"})


@pytest.mark.integration
@pytest.mark.anyio
async def test_symlinks_pointing_outside_are_rejected(render_tools: RenderTools, tmp_path: Path) -> None:
    outside = write(
        tmp_path / "outside", {"secret.yaml": "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\n"}
    )
    repo = write(
        tmp_path / "repo", {"app/ok.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ok}\n"}
    )
    (repo / "app" / "inside-link.yaml").symlink_to(repo / "app" / "ok.yaml")
    result = await render(render_tools, repo, {"path": "app"})
    assert [m["metadata"]["name"] for m in result.manifests] == ["ok", "ok"]

    (repo / "elsewhere").mkdir()
    (repo / "elsewhere" / "leak.yaml").symlink_to(outside / "secret.yaml")
    with pytest.raises(RenderError, match=r"the symlink elsewhere/leak.yaml points outside the repository"):
        await render(render_tools, repo, {"path": "app"})
    (repo / "elsewhere" / "leak.yaml").unlink()
    (repo / "linked-app").symlink_to(outside, target_is_directory=True)
    with pytest.raises(RenderError, match=r"the symlink linked-app points outside the repository"):
        await render(render_tools, repo, {"path": "app"})
    with pytest.raises(RenderError, match=r"the source path 'linked-app' resolves outside the repository"):
        await render(render_tools, repo, {"path": "linked-app"})


@pytest.mark.integration
@pytest.mark.anyio
async def test_files_over_the_size_limit_are_rejected(render_tools: RenderTools, tmp_path: Path) -> None:
    big = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: big}\ndata:\n  blob: " + "x" * 5000 + "\n"
    repo = write(
        tmp_path / "repo", {"app/big.yaml": big, "app/kustomization.yaml": "resources: [big.yaml]\n"}
    )
    limits = RenderLimits(max_file_bytes=4096)
    with pytest.raises(
        RenderError, match=r"the file app/big.yaml is \d+ bytes, over the limit of 4096 bytes"
    ):
        await render(render_tools, repo, {"path": "app"}, limits=limits)
    result = await render(render_tools, repo, {"path": "app"})
    assert result.manifests[0]["metadata"]["name"] == "big"
    with pytest.raises(RenderError, match=r"kustomize build produced more than 1000 bytes of output"):
        await render(render_tools, repo, {"path": "app"}, limits=RenderLimits(max_output_bytes=1000))


@pytest.mark.integration
@pytest.mark.anyio
async def test_slow_render_is_killed_after_the_timeout(render_tools: RenderTools, tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    fake = tmp_path / "slow-helm"
    fake.write_text(
        "#!/bin/sh\n"
        'if [ "$1" = version ]; then echo v3.0.0-fake; exit 0; fi\n'
        f"sleep 60 & echo $! > {pid_file}\n"
        "wait\n",
        encoding="utf-8",
    )
    fake.chmod(0o755)
    tools = RenderTools(helm=fake, kubectl=render_tools.kubectl)
    repo = tmp_path / "repo"
    write_chart(repo, "web", "0.1.0", CHART_TEMPLATES, **{"values.yaml": CHART_VALUES})
    started = time.monotonic()
    with pytest.raises(RenderError, match=r"^demo: helm template timed out after 0.5 s and was killed$"):
        await render(tools, repo, {"path": "web"}, limits=RenderLimits(timeout_seconds=0.5))
    assert time.monotonic() - started < 10
    child = int(pid_file.read_text())
    deadline = time.monotonic() + 5
    while Path(f"/proc/{child}").exists() and time.monotonic() < deadline:
        time.sleep(0.05)  # the grandchild is killed with its process group
    assert not Path(f"/proc/{child}").exists() or "Z" in Path(f"/proc/{child}/stat").read_text().split()[2]


@pytest.mark.integration
@pytest.mark.anyio
async def test_yaml_bombs_and_duplicate_keys_are_rejected(render_tools: RenderTools, tmp_path: Path) -> None:
    lines = [
        "apiVersion: v1",
        "kind: ConfigMap",
        "metadata: {name: lol}",
        "a0: &a0 [" + ", ".join(["lol"] * 10) + "]",
    ]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 10)]
    repo = write(
        tmp_path / "repo",
        {
            "bomb/bomb.yaml": "\n".join(lines) + "\n",
            "dup/dup.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: d}\ndata: {}\nkind: Secret\n",
        },
    )
    with pytest.raises(RenderError, match=r"^demo: bomb.yaml: document 1: the document expands to more than"):
        await render(render_tools, repo, {"path": "bomb"})
    with pytest.raises(RenderError, match=r"dup.yaml: document 1: invalid YAML: duplicate key 'kind'"):
        await render(render_tools, repo, {"path": "dup"})
    # The same check applies to what a tool prints: a chart whose output carries a duplicate key.
    write_chart(
        repo,
        "dupchart",
        "0.1.0",
        {"cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\nmetadata: {name: y}\n"},
    )
    with pytest.raises(
        RenderError, match=r"helm template dupchart: document 1: invalid YAML: duplicate key 'metadata'"
    ):
        await render(render_tools, repo, {"path": "dupchart"})


@pytest.mark.integration
@pytest.mark.anyio
async def test_unsupported_sources(render_tools: RenderTools, tmp_path: Path) -> None:
    repo = write(
        tmp_path / "repo",
        {"app/main.jsonnet": "{}", "app/ok.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ok}\n"},
    )
    with pytest.raises(RenderError, match=r"main.jsonnet: Jsonnet is not supported"):
        await render(render_tools, repo, {"path": "app"})
    result = await render(render_tools, repo, {"path": "app", "directory": {"exclude": "*.jsonnet"}})
    assert len(result.manifests) == 1
    with pytest.raises(
        RenderError, match="the source sets helm and kustomize; only one tool may be configured"
    ):
        await render(render_tools, repo, {"path": "app", "helm": {}, "kustomize": {}})
    with pytest.raises(RenderError, match="is not a directory"):
        await render(render_tools, repo, {"path": "app/ok.yaml"})


@pytest.mark.integration
@pytest.mark.anyio
async def test_missing_tools_and_odd_paths_are_render_errors(
    render_tools: RenderTools, tmp_path: Path
) -> None:
    repo = tmp_path / "repo"
    write_chart(repo, "web", "0.1.0", CHART_TEMPLATES, **{"values.yaml": CHART_VALUES})
    broken = RenderTools(helm=tmp_path / "no-such-helm", kubectl=render_tools.kubectl)
    with pytest.raises(RenderError, match=r"^demo: cannot run .*no-such-helm"):
        await render(broken, repo, {"path": "web"})
    with pytest.raises(RenderError, match=r"^demo: cannot render the source: .*null"):
        await render(render_tools, repo, {"path": "web\x00x"})
    with pytest.raises(RenderError, match=r"^demo: the source has a path but no repository checkout"):
        await render(render_tools, None, {"path": "web"})


@pytest.mark.integration
@pytest.mark.anyio
async def test_tool_versions(render_tools: RenderTools) -> None:
    versions = await tool_versions(render_tools)
    assert versions["helm"].startswith("helm v3.22.0")
    assert versions["kustomize"].startswith("kustomize v5.8.1 (kubectl v1.36")


# --------------------------------------------------------------------------- source parsing (no tools)


def test_source_parsing_round_trip() -> None:
    raw = {
        "repoURL": "https://git.example/apps.git",
        "path": "apps/web",
        "targetRevision": "main",
        "helm": {
            "valueFiles": ["values.yaml"],
            "valuesObject": {"a": {"b": [1, 2]}},
            "parameters": [{"name": "x", "value": "1", "forceString": True}],
            "releaseName": "web",
            "skipCrds": True,
            "passCredentials": True,
            "version": "v3",
        },
    }
    source = ApplicationSource.from_dict(raw)
    assert source.helm is not None
    assert source.helm.parameters[0].force_string
    assert source.to_dict() == raw
    assert ApplicationSource.from_dict(source.to_dict()) == source


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"path": "x"}, r"source.repoURL: required"),
        ({"repoURL": 3}, r"source.repoURL: expected a string, got int"),
        (
            {"repoURL": "r", "helm": {"valueFiles": "v.yaml"}},
            r"source.helm.valueFiles: expected a list, got str",
        ),
        (
            {"repoURL": "r", "helm": {"parameters": [{"name": 1}]}},
            r"helm.parameters\[0\].name: expected a string",
        ),
        ({"repoURL": "r", "helm": {"skipCrds": "yes"}}, r"helm.skipCrds: expected true or false, got str"),
        ({"repoURL": "r", "helm": {"version": "v2"}}, r"only Helm v3 is supported"),
        ({"repoURL": "r", "kustomize": {"replicas": [{"name": "w", "count": "x"}]}}, r"replicas\[0\].count"),
        (
            {"repoURL": "r", "kustomize": {"commonLabels": {"a": 1}}},
            r"kustomize.commonLabels.a: expected a string",
        ),
        (
            {"repoURL": "r", "kustomize": {"patches": [{"path": "p.yaml"}]}},
            r"kustomize.patches: .*not supported",
        ),
        ({"repoURL": "r", "directory": {"jsonnet": {"tlas": [{"name": "a"}]}}}, r"Jsonnet is not supported"),
        ({"repoURL": "r", "plugin": {"name": "cmp"}}, r"source.plugin: config management plugins"),
        ({"repoURL": "r", "chart": "c", "path": "p"}, r"either chart .* or path"),
    ],
)
def test_source_parsing_rejects_bad_input(raw: dict[str, Any], message: str) -> None:
    with pytest.raises(SourceError, match=message):
        ApplicationSource.from_dict(raw)


def test_spec_sources_and_detection(tmp_path: Path) -> None:
    assert len(sources_of_spec({"source": {"repoURL": "r"}})) == 1
    with pytest.raises(SourceError, match="either source or sources is required"):
        sources_of_spec({})
    write(tmp_path, {"kustomization.yaml": "{}", "Chart.yaml": "name: x"})
    assert detect_tool(ApplicationSource(repo_url="r"), tmp_path) is ToolKind.KUSTOMIZE
    assert detect_tool(ApplicationSource(repo_url="r", chart="c"), None) is ToolKind.HELM
    os.remove(tmp_path / "kustomization.yaml")
    assert detect_tool(ApplicationSource(repo_url="r"), tmp_path) is ToolKind.HELM
