"""Helm sources: ``helm template`` argument building (value files, inline values, parameters)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from argosy.adapters.render._paths import check_file, resolve_inside
from argosy.adapters.render._types import HelmRepositoryAccess, RenderError
from argosy.model.source import ApplicationSource, HelmSource

__all__ = ["chart_reference", "is_oci", "resolve_value_file", "value_args"]

_REMOTE_PREFIXES = ("http://", "https://", "oci://", "s3://", "gs://", "git://", "ftp://", "file://")


def is_oci(repo_url: str) -> bool:
    """``oci://...``, or a Helm repository URL without ``http(s)://`` (Argo CD's OCI form)."""
    return repo_url.startswith("oci://") or "://" not in repo_url


def chart_reference(source: ApplicationSource, access: HelmRepositoryAccess) -> list[str]:
    """The chart argument and repository flags of ``helm template`` for a ``chart:`` source."""
    args: list[str]
    if is_oci(source.repo_url):
        base = source.repo_url.removeprefix("oci://").rstrip("/")
        args = [f"oci://{base}/{source.chart}"]
    else:
        args = [source.chart, "--repo", source.repo_url]
    if source.target_revision and source.target_revision not in ("HEAD", "*"):
        args += ["--version", source.target_revision]
    if access.plain_http:
        args.append("--plain-http")
    if access.insecure_skip_tls_verify:
        args.append("--insecure-skip-tls-verify")
    return args


def resolve_value_file(
    name: str,
    *,
    chart_dir: Path | None,
    repo_root: Path | None,
    ref_roots: Mapping[str, Path],
    app: str,
    max_bytes: int,
) -> Path | None:
    """The checked path of one ``valueFiles`` entry (``None`` when it is missing and may be).

    ``$ref/path`` reads from the checkout of the source with that ``ref``; anything else is
    relative to the chart directory and must stay inside the application's repository.
    """
    if name.startswith(_REMOTE_PREFIXES):
        raise RenderError(app, f"the value file {name!r} is remote; only files in a repository are supported")
    what = "the value file"
    if name.startswith("$"):
        ref, _, rest = name[1:].partition("/")
        if ref not in ref_roots:
            known = ", ".join(sorted(ref_roots)) or "none"
            raise RenderError(
                app, f"{what} {name!r} names the source ref {ref!r}, which is not defined ({known})"
            )
        root = ref_roots[ref]
        path = resolve_inside(root, rest, app=app, what=what)
    else:
        if chart_dir is None or repo_root is None:
            raise RenderError(
                app,
                f"{what} {name!r} is relative, but the chart comes from a Helm repository; "
                "use a $ref/ path from another source",
            )
        root = repo_root
        if name.strip().startswith("/"):
            raise RenderError(
                app, f"{what} {name!r} is an absolute path; it must be relative to the repository"
            )
        relative = (chart_dir / name).resolve()
        if not relative.is_relative_to(repo_root.resolve()):
            raise RenderError(app, f"{what} {name!r} resolves outside the repository")
        path = relative
    if not path.exists():
        return None
    check_file(path, root, app=app, what=what, max_bytes=max_bytes)
    return path


def value_args(
    helm: HelmSource,
    *,
    value_files: Sequence[Path],
    values_file: Path | None,
    file_parameters: Sequence[tuple[str, Path]],
) -> list[str]:
    """``-f`` files in order (value files, then inline values), then ``--set*`` parameters."""
    args: list[str] = []
    for path in value_files:
        args += ["--values", str(path)]
    if values_file is not None:
        args += ["--values", str(values_file)]
    for param in helm.parameters:
        flag = "--set-string" if param.force_string else "--set"
        args += [flag, f"{param.name}={param.value}"]
    for name, path in file_parameters:
        args += ["--set-file", f"{name}={path}"]
    return args
