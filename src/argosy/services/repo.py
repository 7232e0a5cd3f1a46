"""The desired state of an application: resolve each source's revision, then serve the rendered
manifests from a cache keyed by everything that can change them.

The cache key is (repository URL, commit SHA) of every Git source, the canonical form of every
source (path, Kustomize/Helm parameters, chart and version), the application name and
namespace, the cluster's version and API versions, and the renderer's tool versions. So a refresh
of an unchanged revision costs one ``ls-remote`` (or nothing while the Git client's resolution is
still fresh) and no fetch, checkout or render; a hard refresh skips the cache.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from argosy.model.repository import CommitMetadata, RepoCredentials, ResolvedRevision, normalize_repo_url
from argosy.model.source import ApplicationSource
from argosy.ports.sources import GitRepositories, Renderer

log = logging.getLogger(__name__)

CredentialsLookup = Callable[[str], RepoCredentials | None]


def _no_credentials(_url: str) -> RepoCredentials | None:
    return None


@dataclass(frozen=True, slots=True)
class DesiredStateRequest:
    """Everything that decides an application's rendered manifests."""

    app_name: str
    namespace: str
    sources: tuple[ApplicationSource, ...]
    kube_version: str | None = None
    api_versions: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class DesiredState:
    """Rendered manifests of all sources, with the commit each Git source resolved to."""

    manifests: tuple[dict[str, Any], ...] = field(repr=False)
    revisions: tuple[str, ...]
    """One entry per source: the commit SHA of a Git source, the chart version of a chart source."""
    from_cache: bool


@dataclass(slots=True)
class RepoServiceStats:
    renders: int = 0
    cache_hits: int = 0


class RepoService:
    """Desired state with a bounded LRU manifest cache (Argo CD's repo-server role)."""

    def __init__(
        self,
        git: GitRepositories,
        render: Renderer,
        *,
        tool_versions: Mapping[str, str],
        credentials: CredentialsLookup = _no_credentials,
        cache_entries: int = 1024,
    ) -> None:
        self._git = git
        self._render = render
        self._tool_versions = dict(sorted(tool_versions.items()))
        self._credentials = credentials
        self._cache: OrderedDict[str, tuple[dict[str, Any], ...]] = OrderedDict()
        self._cache_entries = cache_entries
        self._locks: dict[str, asyncio.Lock] = {}
        self.stats = RepoServiceStats()

    @staticmethod
    def _is_git(source: ApplicationSource) -> bool:
        return not source.chart

    async def resolve(
        self, request: DesiredStateRequest, *, refresh: bool = False
    ) -> tuple[ResolvedRevision | None, ...]:
        """The commit of each Git source (``None`` for chart sources, which have no commit)."""

        async def one(source: ApplicationSource) -> ResolvedRevision | None:
            if not self._is_git(source):
                return None
            return await self._git.resolve(
                source.repo_url, source.target_revision, self._credentials(source.repo_url), refresh=refresh
            )

        return tuple(await asyncio.gather(*(one(s) for s in request.sources)))

    def _cache_key(self, request: DesiredStateRequest, resolved: Sequence[ResolvedRevision | None]) -> str:
        material = {
            "app": request.app_name,
            "namespace": request.namespace,
            "kube_version": request.kube_version,
            "api_versions": sorted(request.api_versions),
            "tools": self._tool_versions,
            "sources": [
                {
                    "source": source.to_dict(),
                    "repo": normalize_repo_url(source.repo_url),
                    "sha": rev.sha if rev is not None else None,
                }
                for source, rev in zip(request.sources, resolved, strict=True)
            ],
        }
        return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()

    async def desired_state(
        self, request: DesiredStateRequest, *, refresh: bool = False, hard_refresh: bool = False
    ) -> DesiredState:
        """Rendered manifests of ``request``; ``refresh`` re-resolves revisions, ``hard_refresh`` also
        re-renders. Errors from Git or rendering propagate: a failed source never yields a partial set."""
        resolved = await self.resolve(request, refresh=refresh or hard_refresh)
        revisions = tuple(
            rev.sha if rev is not None else source.target_revision
            for source, rev in zip(request.sources, resolved, strict=True)
        )
        key = self._cache_key(request, resolved)
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            cached = None if hard_refresh else self._cache.get(key)
            if cached is not None:
                self._cache.move_to_end(key)
                self.stats.cache_hits += 1
                return DesiredState(manifests=cached, revisions=revisions, from_cache=True)
            manifests = await self._render_all(request, resolved)
            self._cache[key] = manifests
            self._cache.move_to_end(key)
            while len(self._cache) > self._cache_entries:
                evicted, _ = self._cache.popitem(last=False)
                self._locks.pop(evicted, None)
            self.stats.renders += 1
        return DesiredState(manifests=manifests, revisions=revisions, from_cache=False)

    async def _render_all(
        self, request: DesiredStateRequest, resolved: Sequence[ResolvedRevision | None]
    ) -> tuple[dict[str, Any], ...]:
        roots: list[Path | None] = []
        for source, rev in zip(request.sources, resolved, strict=True):
            if rev is None:
                roots.append(None)
                continue
            creds = self._credentials(source.repo_url)
            await self._git.fetch(source.repo_url, rev.sha, creds)
            roots.append(
                await self._git.checkout(source.repo_url, rev.sha, lfs=bool(creds and creds.enable_lfs))
            )
        ref_roots = {
            source.ref: root
            for source, root in zip(request.sources, roots, strict=True)
            if source.ref and root is not None
        }
        manifests: list[dict[str, Any]] = []
        for source, root in zip(request.sources, roots, strict=True):
            # A `ref:` source without a path only lends its files ($ref/values.yaml) to the others.
            if source.ref and not source.path and not source.chart:
                continue
            result = await self._render(
                repo_root=root,
                source=source,
                app_name=request.app_name,
                namespace=request.namespace,
                ref_roots=ref_roots,
                kube_version=request.kube_version,
                api_versions=request.api_versions,
            )
            manifests.extend(result.manifests)
        return tuple(manifests)

    async def commit_metadata(
        self, request: DesiredStateRequest, revisions: Sequence[str]
    ) -> CommitMetadata | None:
        """Metadata of the first Git source's commit among ``revisions`` (one per source, as in
        :class:`DesiredState`), from the local Git cache; ``None`` for chart sources or when unknown."""
        for source, revision in zip(request.sources, revisions, strict=False):
            if self._is_git(source):
                try:
                    return await self._git.commit_metadata(source.repo_url, revision)
                except Exception as exc:  # metadata is informative: never fail a caller for it
                    log.debug("commit metadata of %s: %s", revision, exc)
                    return None
        return None

    def mark_stale(self, url: str, branch: str | None = None) -> None:
        """A push to ``url`` (and ``branch``) happened: re-resolve on the next request. Cached renders
        stay valid because they are keyed by commit."""
        self._git.mark_stale(url, branch)
