"""Directory sources: plain YAML/JSON manifest files, with Argo CD's recurse/include/exclude."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from wcmatch import fnmatch

from argosy.adapters.render._paths import check_file
from argosy.adapters.render._types import ManifestParser, RenderError, RenderLimits
from argosy.model.source import DirectorySource

__all__ = ["glob_match", "render_directory"]

_MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
_GLOB_FLAGS = fnmatch.BRACE | fnmatch.DOTMATCH
_RESOURCE_MARKERS = ("apiVersion:", "kind:", "metadata:")


def glob_match(pattern: str, relative_path: str) -> bool:
    """Argo CD's include/exclude match: the whole repo-relative-to-app path, ``*`` also crosses ``/``,
    ``{a,b}`` alternatives, ``?`` and ``[...]`` classes."""
    return bool(fnmatch.fnmatch(relative_path, pattern, flags=_GLOB_FLAGS))


def _candidate_files(app_dir: Path, recurse: bool) -> list[Path]:
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(app_dir, followlinks=False):
        base = Path(dirpath)
        dirnames[:] = sorted(d for d in dirnames if d != ".git") if recurse else []
        found.extend(base / name for name in sorted(filenames))
    return found


def render_directory(
    *,
    repo_root: Path,
    app_dir: Path,
    options: DirectorySource,
    app: str,
    limits: RenderLimits,
    parse: ManifestParser,
) -> list[dict[str, Any]]:
    manifests: list[dict[str, Any]] = []
    total = 0
    for path in _candidate_files(app_dir, options.recurse):
        relative = path.relative_to(app_dir).as_posix()
        if path.suffix not in (*_MANIFEST_SUFFIXES, ".jsonnet"):
            continue
        if options.include and not glob_match(options.include, relative):
            continue
        if options.exclude and glob_match(options.exclude, relative):
            continue
        if path.suffix == ".jsonnet":
            raise RenderError(app, f"{relative}: Jsonnet is not supported by Argosy (exclude it to skip it)")
        real = path.resolve()
        check_file(real, repo_root, app=app, what="the manifest file", max_bytes=limits.max_file_bytes)
        total += real.stat().st_size
        if total > limits.max_output_bytes:
            raise RenderError(app, f"the manifest files add up to more than {limits.max_output_bytes} bytes")
        try:
            text = real.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise RenderError(app, f"{relative}: not UTF-8 text") from None
        try:
            manifests.extend(parse(text, file=relative))
        except ValueError as exc:
            if path.suffix != ".json" and not all(marker in text for marker in _RESOURCE_MARKERS):
                continue  # as Argo CD: an unrelated YAML file (no apiVersion/kind/metadata) is ignored
            raise RenderError(app, str(exc)) from None
    return manifests
