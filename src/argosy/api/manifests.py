"""A :class:`~argosy.api.apps.ManifestSource` over the repo service (``argosy.services.repo``), for
``GET .../manifests`` and the ``targetState`` of ``GET .../managed-resources``.

The composition root passes ``ApiDeps(manifests=RepoManifestSource(repo_service))``. Secrets in the
rendered manifests are masked by the routes, never here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from argosy.model.application import Application
from argosy.model.repository import CommitMetadata
from argosy.services.repo import DesiredStateRequest, RepoService

__all__ = ["RepoManifestSource"]


class RepoManifestSource:
    def __init__(self, repo: RepoService) -> None:
        self._repo = repo

    async def manifests(self, app: Mapping[str, Any], revision: str | None) -> list[dict[str, Any]]:
        model = Application.from_dict(app)
        sources = model.spec.application_sources()
        if revision and len(sources) == 1:
            sources = (dataclasses.replace(sources[0], target_revision=revision),)
        request = DesiredStateRequest(
            app_name=model.name, namespace=model.spec.destination.namespace, sources=sources
        )
        state = await self._repo.desired_state(request)
        return [dict(m) for m in state.manifests]

    async def revision_metadata(self, app: Mapping[str, Any], revision: str) -> CommitMetadata | None:
        """From the Git cache the controller fills (no network): ``None`` for a commit not fetched."""
        model = Application.from_dict(app)
        sources = model.spec.application_sources()
        request = DesiredStateRequest(
            app_name=model.name, namespace=model.spec.destination.namespace, sources=sources
        )
        return await self._repo.commit_metadata(request, [revision] * len(sources))
