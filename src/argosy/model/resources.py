"""Resource identity: ``GroupKind`` and ``ResourceKey``, with parse/format helpers.

A key is what pairs a desired manifest with its live object. The text form follows Argo CD's
``group/kind/namespace/name`` (core-group resources start with ``/``; cluster-scoped ones have an
empty namespace segment), e.g. ``apps/Deployment/default/web`` or ``/Namespace//prod``.
Stdlib only; manifests are plain ``Mapping`` objects.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["GroupKind", "ResourceKey", "group_of_api_version"]


def group_of_api_version(api_version: str) -> str:
    """Return the API group of an ``apiVersion`` (``apps/v1`` -> ``apps``, ``v1`` -> ``""``)."""
    group, sep, _version = api_version.rpartition("/")
    return group if sep else ""


@dataclass(frozen=True, slots=True, order=True)
class GroupKind:
    """An API group and kind, without version. The core group is ``""``."""

    group: str
    kind: str

    @classmethod
    def parse(cls, text: str) -> GroupKind:
        """Parse ``group/Kind`` or a bare ``Kind`` (core group); ``Kind.group`` is accepted too."""
        if "/" in text:
            group, _, kind = text.rpartition("/")
        elif "." in text:
            kind, _, group = text.partition(".")
        else:
            group, kind = "", text
        if not kind:
            raise ValueError(f"invalid group/kind {text!r}: the kind is empty")
        return cls(group, kind)

    def __str__(self) -> str:
        return f"{self.group}/{self.kind}" if self.group else self.kind


@dataclass(frozen=True, slots=True, order=True)
class ResourceKey:
    """The identity of one Kubernetes object: group, kind, namespace and name (no version)."""

    group: str
    kind: str
    namespace: str
    name: str

    @property
    def group_kind(self) -> GroupKind:
        return GroupKind(self.group, self.kind)

    @classmethod
    def parse(cls, text: str) -> ResourceKey:
        """Parse ``group/kind/namespace/name`` (exactly four ``/``-separated fields)."""
        parts = text.split("/")
        if len(parts) != 4:
            raise ValueError(
                f"invalid resource key {text!r}: expected group/kind/namespace/name "
                "(use an empty group for the core API, e.g. /ConfigMap/default/settings)"
            )
        group, kind, namespace, name = parts
        if not kind or not name:
            raise ValueError(f"invalid resource key {text!r}: kind and name are required")
        return cls(group, kind, namespace, name)

    @classmethod
    def from_manifest(cls, manifest: Mapping[str, Any], *, default_namespace: str = "") -> ResourceKey:
        """Build the key of a manifest dict; a missing namespace becomes ``default_namespace``."""
        metadata = manifest.get("metadata") or {}
        return cls(
            group=group_of_api_version(str(manifest.get("apiVersion") or "")),
            kind=str(manifest.get("kind") or ""),
            namespace=str(metadata.get("namespace") or default_namespace),
            name=str(metadata.get("name") or ""),
        )

    def format(self) -> str:
        return f"{self.group}/{self.kind}/{self.namespace}/{self.name}"

    def __str__(self) -> str:
        return self.format()
