"""Rendering: turn a checked-out source into Kubernetes manifests (Argo CD's repo-server role).

Layer 3 (``argosy.adapters``). May import: ``argosy.model``, the standard library and wcmatch. It
runs ``helm`` and ``kubectl kustomize`` from paths passed in (:class:`RenderTools`) and never
imports another adapter or ``argosy.core``; the YAML parser is injected (:class:`ManifestParser`,
normally ``argosy.core.manifests.parse_manifests``). See docs/rendering.md.
"""

from argosy.adapters.render._directory import glob_match
from argosy.adapters.render._kustomize import image_override
from argosy.adapters.render._render import detect_tool, render_source, tool_versions
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

__all__ = [
    "DEFAULT_LIMITS",
    "HelmRepositoryAccess",
    "ManifestParser",
    "RenderError",
    "RenderLimits",
    "RenderResult",
    "RenderTools",
    "ToolKind",
    "detect_tool",
    "glob_match",
    "image_override",
    "render_source",
    "tool_versions",
]
