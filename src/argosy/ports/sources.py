"""Ports for reading sources: a Git repository cache and a renderer."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from argosy.model.repository import CommitMetadata, RepoCredentials, ResolvedRevision
from argosy.model.source import ApplicationSource


class GitRepositories(Protocol):
    """Resolves revisions and checks out commits (``argosy.adapters.git.GitClient``)."""

    async def resolve(
        self, url: str, target_revision: str, creds: RepoCredentials | None = None, *, refresh: bool = False
    ) -> ResolvedRevision: ...

    async def fetch(self, url: str, sha: str, creds: RepoCredentials | None = None) -> None: ...

    async def checkout(self, url: str, sha: str, *, lfs: bool = False) -> Path: ...

    def mark_stale(self, url: str, branch: str | None = None) -> None: ...

    async def commit_metadata(self, url: str, sha: str) -> CommitMetadata | None: ...


class RenderedSource(Protocol):
    """What a renderer returns for one source."""

    @property
    def manifests(self) -> list[dict[str, Any]]: ...

    @property
    def tool_version(self) -> str: ...


class Renderer(Protocol):
    """Turns one checked-out source into manifests (``argosy.adapters.render.render_source`` with
    its tools, parser and limits bound)."""

    async def __call__(
        self,
        *,
        repo_root: Path | None,
        source: ApplicationSource,
        app_name: str,
        namespace: str,
        ref_roots: Mapping[str, Path],
        kube_version: str | None,
        api_versions: Sequence[str],
    ) -> RenderedSource: ...
