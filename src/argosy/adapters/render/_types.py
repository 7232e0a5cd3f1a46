"""Value types of the render adapter: tools, limits, results and the single error type."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

__all__ = [
    "DEFAULT_LIMITS",
    "HelmRepositoryAccess",
    "ManifestParser",
    "RenderError",
    "RenderLimits",
    "RenderResult",
    "RenderTools",
    "ToolKind",
]


class ToolKind(StrEnum):
    """How a source was rendered (Argo CD's application source types)."""

    DIRECTORY = "Directory"
    KUSTOMIZE = "Kustomize"
    HELM = "Helm"


class RenderError(Exception):
    """One application's source could not be rendered; no manifests are returned for it."""

    def __init__(self, app: str, message: str) -> None:
        super().__init__(f"{app}: {message}" if app else message)
        self.app = app
        self.message = message


class ManifestParser(Protocol):
    """Turns manifest text into Kubernetes objects; raises ``ValueError`` on bad input.

    The composition root passes ``argosy.core.manifests.parse_manifests`` (adapters do not import
    the core); any ``ValueError`` it raises (``ManifestError`` is one) becomes a :class:`RenderError`.
    """

    def __call__(self, text: str, *, file: str) -> list[dict[str, Any]]: ...


@dataclass(frozen=True, slots=True)
class RenderTools:
    """Paths of the external programs. ``kubectl`` runs ``kubectl kustomize``."""

    helm: Path
    kubectl: Path


@dataclass(frozen=True, slots=True)
class RenderLimits:
    """Bounds on one render (Argo CD's ``ARGOCD_EXEC_TIMEOUT`` is 90 s)."""

    timeout_seconds: float = 90.0
    max_file_bytes: int = 10 * 1024 * 1024
    """Any file in the repository tree, value file or manifest file may be at most this large."""
    max_output_bytes: int = 64 * 1024 * 1024
    """Standard output of helm/kustomize, and the combined size of a directory's manifest files."""


DEFAULT_LIMITS = RenderLimits()


@dataclass(frozen=True, slots=True)
class HelmRepositoryAccess:
    """How to reach a chart repository or OCI registry (credentials are not supported yet)."""

    plain_http: bool = False
    insecure_skip_tls_verify: bool = False


@dataclass(frozen=True, slots=True)
class RenderResult:
    """The manifests of one source, the tool that produced them and its version (for cache keys)."""

    manifests: list[dict[str, Any]] = field(repr=False)
    tool: ToolKind
    tool_version: str
