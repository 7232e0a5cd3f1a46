"""The entry point: one Application source in, its manifests out (Argo CD's repo-server role)."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from argosy.adapters.render._directory import render_directory
from argosy.adapters.render._helm import chart_reference, resolve_value_file, value_args
from argosy.adapters.render._kustomize import (
    KUSTOMIZATION_FILES,
    local_references_outside,
    wrapper_kustomization,
)
from argosy.adapters.render._paths import check_tree, resolve_inside
from argosy.adapters.render._process import ToolFailed, isolated_env, run_tool
from argosy.adapters.render._types import (
    DEFAULT_LIMITS,
    HelmRepositoryAccess,
    ManifestParser,
    RenderError,
    RenderLimits,
    RenderResult,
    RenderTools,
    ToolKind,
)
from argosy.model.source import ApplicationSource, DirectorySource, HelmSource, KustomizeSource

__all__ = ["detect_tool", "render_source", "tool_versions"]

_VERSION_TIMEOUT = 30.0
_version_cache: dict[tuple[str, int, int], str] = {}


def detect_tool(source: ApplicationSource, app_dir: Path | None, *, app: str = "") -> ToolKind:
    """Argo CD's choice: an explicit ``helm``/``kustomize``/``directory`` block wins (only one may
    be set); otherwise ``chart:`` means Helm, a kustomization file means Kustomize (it wins over a
    ``Chart.yaml`` in the same directory, as in Argo CD's discovery), ``Chart.yaml`` means Helm,
    and anything else is a directory of manifests."""
    if source.chart:
        return ToolKind.HELM
    explicit = [
        kind
        for kind, block in (
            (ToolKind.HELM, source.helm),
            (ToolKind.KUSTOMIZE, source.kustomize),
            (ToolKind.DIRECTORY, source.directory),
        )
        if block is not None
    ]
    if len(explicit) > 1:
        names = " and ".join(k.value.lower() for k in explicit)
        raise RenderError(app, f"the source sets {names}; only one tool may be configured")
    if explicit:
        return explicit[0]
    if app_dir is not None:
        if any((app_dir / name).is_file() for name in KUSTOMIZATION_FILES):
            return ToolKind.KUSTOMIZE
        if (app_dir / "Chart.yaml").is_file():
            return ToolKind.HELM
    return ToolKind.DIRECTORY


async def _version_of(binary: Path, argv: Sequence[str], parse: Any, home: Path) -> str:
    try:
        stat = binary.stat()
    except OSError as exc:
        raise RenderError("", f"cannot run {binary}: {exc.strerror or exc}") from None
    key = (str(binary), stat.st_mtime_ns, stat.st_size)
    if key not in _version_cache:
        try:
            out = await run_tool(
                [binary, *argv],
                app="",
                what=f"{binary.name} version",
                cwd=home,
                env=isolated_env(home),
                timeout=_VERSION_TIMEOUT,
                max_output=1024 * 1024,
            )
        except ToolFailed as exc:
            raise RenderError("", f"{binary} version failed: {exc.stderr}") from None
        try:
            _version_cache[key] = str(parse(out))
        except (ValueError, KeyError, TypeError):
            raise RenderError("", f"cannot read the version of {binary} from {out[:200]!r}") from None
    return _version_cache[key]


def _kubectl_version(out: str) -> str:
    data = json.loads(out)
    return f"kustomize {data.get('kustomizeVersion', '?')} (kubectl {data['clientVersion']['gitVersion']})"


async def tool_versions(tools: RenderTools) -> dict[str, str]:
    """``{"helm": "helm v3.22.0+g...", "kustomize": "kustomize v5.8.1 (kubectl v1.36.3)"}``."""
    with tempfile.TemporaryDirectory(prefix="argosy-render-") as tmp:
        home = Path(tmp)
        helm = await _version_of(tools.helm, ["version", "--short"], lambda o: f"helm {o.strip()}", home)
        kustomize = await _version_of(
            tools.kubectl, ["version", "--client", "-o", "json"], _kubectl_version, home
        )
    return {"helm": helm, "kustomize": kustomize}


def _parse(parse: ManifestParser, text: str, *, file: str, app: str) -> list[dict[str, Any]]:
    try:
        return parse(text, file=file)
    except ValueError as exc:
        raise RenderError(app, str(exc)) from None


def _failed(app: str, what: str, exc: ToolFailed) -> RenderError:
    lines = [line for line in exc.stderr.splitlines() if line.strip() and not line.startswith("# Warning")]
    detail = "\n".join(lines[-20:]) or f"exit status {exc.returncode}"
    return RenderError(app, f"{what} failed: {detail}")


async def render_source(
    *,
    repo_root: Path | None,
    source: ApplicationSource,
    app_name: str,
    namespace: str,
    ref_roots: Mapping[str, Path],
    tools: RenderTools,
    parse: ManifestParser,
    limits: RenderLimits = DEFAULT_LIMITS,
    kube_version: str | None = None,
    api_versions: Sequence[str] = (),
    helm_access: HelmRepositoryAccess | None = None,
) -> RenderResult:
    """Render one source of application ``app_name`` into Kubernetes objects.

    ``repo_root`` is the checkout of ``source.repoURL`` (``None`` for a ``chart:`` source);
    ``ref_roots`` maps each ``ref:`` of the application's other sources to its checkout, for
    ``$ref/...`` value files. Raises :class:`RenderError` (never returns partial results).
    """
    try:
        return await _render(
            repo_root=repo_root,
            source=source,
            app=app_name,
            namespace=namespace,
            ref_roots=ref_roots,
            tools=tools,
            parse=parse,
            limits=limits,
            kube_version=kube_version,
            api_versions=api_versions,
            access=helm_access or HelmRepositoryAccess(),
        )
    except RenderError as exc:
        if not exc.app:
            raise RenderError(app_name, exc.message) from None
        raise
    except (OSError, ValueError) as exc:
        # Unreadable files, a NUL byte in a path and the like: still this application's error.
        raise RenderError(app_name, f"cannot render the source: {exc}") from None


async def _render(
    *,
    repo_root: Path | None,
    source: ApplicationSource,
    app: str,
    namespace: str,
    ref_roots: Mapping[str, Path],
    tools: RenderTools,
    parse: ManifestParser,
    limits: RenderLimits,
    kube_version: str | None,
    api_versions: Sequence[str],
    access: HelmRepositoryAccess,
) -> RenderResult:
    app_dir: Path | None = None
    if not source.chart:
        if repo_root is None:
            raise RenderError(app, "the source has a path but no repository checkout was given")
        app_dir = resolve_inside(repo_root, source.path or ".", app=app, what="the source path")
        if not app_dir.is_dir():
            raise RenderError(app, f"the source path {source.path!r} is not a directory in the repository")
        check_tree(repo_root, app=app, max_bytes=limits.max_file_bytes)
    kind = detect_tool(source, app_dir, app=app)
    versions = await tool_versions(tools) if kind is not ToolKind.DIRECTORY else {}

    if kind is ToolKind.DIRECTORY:
        assert app_dir is not None and repo_root is not None
        manifests = render_directory(
            repo_root=repo_root,
            app_dir=app_dir,
            options=source.directory or DirectorySource(),
            app=app,
            limits=limits,
            parse=parse,
        )
        return RenderResult(manifests=manifests, tool=kind, tool_version="directory")

    with tempfile.TemporaryDirectory(prefix="argosy-render-") as tmp:
        work = Path(tmp)
        home = work / "home"
        home.mkdir()
        env = isolated_env(home)
        if kind is ToolKind.KUSTOMIZE:
            assert app_dir is not None and repo_root is not None
            escape = local_references_outside(app_dir, repo_root, limits.max_file_bytes)
            if escape is not None:
                file, entry = escape
                where = file.relative_to(repo_root.resolve())
                raise RenderError(app, f"{where} refers to {entry!r}, which resolves outside the repository")
            text = await _kustomize(
                app_dir=app_dir,
                overrides=source.kustomize,
                work=work,
                env=env,
                tools=tools,
                limits=limits,
                app=app,
            )
            manifests = _parse(parse, text, file=f"kustomize build {source.path or '.'}", app=app)
            return RenderResult(manifests=manifests, tool=kind, tool_version=versions["kustomize"])
        text = await _helm(
            source=source,
            helm=source.helm or HelmSource(),
            app_dir=app_dir,
            repo_root=repo_root,
            ref_roots=ref_roots,
            app=app,
            namespace=namespace,
            work=work,
            env=env,
            tools=tools,
            limits=limits,
            kube_version=kube_version,
            api_versions=api_versions,
            access=access,
        )
        label = source.chart or source.path or "."
        manifests = _parse(parse, text, file=f"helm template {label}", app=app)
        return RenderResult(manifests=manifests, tool=kind, tool_version=versions["helm"])


async def _kustomize(
    *,
    app_dir: Path,
    overrides: KustomizeSource | None,
    work: Path,
    env: Mapping[str, str],
    tools: RenderTools,
    limits: RenderLimits,
    app: str,
) -> str:
    target = app_dir
    if overrides is not None and overrides.has_overrides:
        target = work / "overrides"
        target.mkdir()
        (target / "kustomization.yaml").write_text(
            wrapper_kustomization(app_dir, target, overrides), encoding="utf-8"
        )
    try:
        return await run_tool(
            [tools.kubectl, "kustomize", target],
            app=app,
            what="kustomize build",
            cwd=work,
            env=env,
            timeout=limits.timeout_seconds,
            max_output=limits.max_output_bytes,
        )
    except ToolFailed as exc:
        raise _failed(app, "kustomize build", exc) from None


async def _helm(
    *,
    source: ApplicationSource,
    helm: HelmSource,
    app_dir: Path | None,
    repo_root: Path | None,
    ref_roots: Mapping[str, Path],
    app: str,
    namespace: str,
    work: Path,
    env: Mapping[str, str],
    tools: RenderTools,
    limits: RenderLimits,
    kube_version: str | None,
    api_versions: Sequence[str],
    access: HelmRepositoryAccess,
) -> str:
    value_files: list[Path] = []
    for name in helm.value_files:
        path = resolve_value_file(
            name,
            chart_dir=app_dir,
            repo_root=repo_root,
            ref_roots=ref_roots,
            app=app,
            max_bytes=limits.max_file_bytes,
        )
        if path is None:
            if helm.ignore_missing_value_files:
                continue
            raise RenderError(app, f"the value file {name!r} does not exist")
        value_files.append(path)
    file_parameters: list[tuple[str, Path]] = []
    for param in helm.file_parameters:
        path = resolve_value_file(
            param.path,
            chart_dir=app_dir,
            repo_root=repo_root,
            ref_roots=ref_roots,
            app=app,
            max_bytes=limits.max_file_bytes,
        )
        if path is None:
            raise RenderError(
                app, f"the file parameter {param.name!r} names {param.path!r}, which does not exist"
            )
        file_parameters.append((param.name, path))
    values_file: Path | None = None
    if helm.values_object is not None:
        values_file = work / "values-object.yaml"
        values_file.write_text(json.dumps(dict(helm.values_object)), encoding="utf-8")
    elif helm.values.strip():
        values_file = work / "values-inline.yaml"
        values_file.write_text(helm.values, encoding="utf-8")

    release = helm.release_name or app
    argv: list[str | Path] = [tools.helm, "template", release]
    if source.chart:
        argv += chart_reference(source, access)
        cwd = work
    else:
        assert app_dir is not None
        argv.append(".")
        cwd = app_dir
    if helm.namespace or namespace:
        argv += ["--namespace", helm.namespace or namespace]
    kube = helm.kube_version or kube_version
    if kube:
        argv += ["--kube-version", kube]
    for api in helm.api_versions or api_versions:
        argv += ["--api-versions", api]
    argv += value_args(
        helm, value_files=value_files, values_file=values_file, file_parameters=file_parameters
    )
    argv.append("--skip-crds" if helm.skip_crds else "--include-crds")
    if helm.skip_tests:
        argv.append("--skip-tests")
    if helm.skip_schema_validation:
        argv.append("--skip-schema-validation")
    try:
        return await run_tool(
            argv,
            app=app,
            what="helm template",
            cwd=cwd,
            env=env,
            timeout=limits.timeout_seconds,
            max_output=limits.max_output_bytes,
        )
    except ToolFailed as exc:
        raise _failed(app, "helm template", exc) from None
