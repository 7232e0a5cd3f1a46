"""Kustomize sources: ``kubectl kustomize``, with ``spec.source.kustomize`` overrides applied from a
generated wrapper kustomization in a temporary directory (the checkout is never modified)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import yaml

from argosy.model.source import KustomizeSource

__all__ = ["KUSTOMIZATION_FILES", "image_override", "local_references_outside", "wrapper_kustomization"]

KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")


def image_override(spec: str) -> dict[str, str]:
    """One ``kustomize.images[]`` entry as a kustomization ``images`` item.

    Forms (as ``kustomize edit set image`` reads them): ``nginx:1.2``, ``nginx@sha256:...``,
    ``nginx=registry/nginx:1.2`` and ``nginx=registry/nginx@sha256:...``.
    """
    name, sep, ref = spec.strip().partition("=")
    if not sep:
        ref = name
    image, at, digest = ref.partition("@")
    new_name, tag = image, ""
    slash = image.rfind("/")
    colon = image.rfind(":")
    if colon > slash:
        new_name, tag = image[:colon], image[colon + 1 :]
    if not sep:
        name = new_name
    out: dict[str, str] = {"name": name}
    if new_name and new_name != name:
        out["newName"] = new_name
    if at:
        out["digest"] = digest
    elif tag:
        out["newTag"] = tag
    return out


def wrapper_kustomization(app_dir: Path, wrapper_dir: Path, overrides: KustomizeSource) -> str:
    """The text (JSON, which is YAML) of a kustomization in ``wrapper_dir`` that includes
    ``app_dir`` as its only resource and applies the overrides.

    Kustomize refuses absolute resource paths, so the resource is the relative path from the
    wrapper to the application directory.
    """
    resource = os.path.relpath(app_dir, wrapper_dir)
    doc: dict[str, Any] = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": [resource],
    }
    if overrides.namespace:
        doc["namespace"] = overrides.namespace
    if overrides.name_prefix:
        doc["namePrefix"] = overrides.name_prefix
    if overrides.name_suffix:
        doc["nameSuffix"] = overrides.name_suffix
    if overrides.common_labels:
        doc["labels"] = [
            {
                "pairs": dict(overrides.common_labels),
                "includeSelectors": not overrides.label_without_selector,
            }
        ]
    if overrides.common_annotations:
        doc["commonAnnotations"] = dict(overrides.common_annotations)
    if overrides.images:
        doc["images"] = [image_override(i) for i in overrides.images]
    if overrides.replicas:
        doc["replicas"] = [{"name": r.name, "count": r.count} for r in overrides.replicas]
    return json.dumps(doc, indent=2, sort_keys=True) + "\n"


_REMOTE_HINTS = ("://", "git@", "github.com/", "gitlab.com/", "bitbucket.org/")
_PATH_FIELDS = ("resources", "bases", "components", "crds")


def _kustomization_in(directory: Path) -> Path | None:
    for name in KUSTOMIZATION_FILES:
        if (directory / name).is_file():
            return directory / name
    return None


def local_references_outside(app_dir: Path, repo_root: Path, max_bytes: int) -> tuple[Path, str] | None:
    """The first kustomization (reachable from ``app_dir``) with a local ``resources``/``bases``/
    ``components``/``crds`` entry that resolves outside ``repo_root``, as ``(file, entry)``.

    Kustomize's load restrictor keeps *files* inside a kustomization's root but lets it include
    other kustomization *directories* anywhere on disk, so this walks the graph of local
    references first. Remote references (URLs) are left to Kustomize.
    """
    root = repo_root.resolve()
    seen: set[Path] = set()
    pending = [app_dir.resolve()]
    while pending:
        directory = pending.pop()
        if directory in seen:
            continue
        seen.add(directory)
        kustomization = _kustomization_in(directory)
        if kustomization is None or kustomization.stat().st_size > max_bytes:
            continue
        try:
            doc = yaml.safe_load(kustomization.read_text(encoding="utf-8"))
        except (yaml.YAMLError, UnicodeDecodeError):
            continue  # Kustomize reports the syntax error itself
        if not isinstance(doc, dict):
            continue
        for field in _PATH_FIELDS:
            entries = doc.get(field)
            if not isinstance(entries, list):
                continue
            for entry in entries:
                if not isinstance(entry, str) or any(hint in entry for hint in _REMOTE_HINTS):
                    continue
                target = (directory / entry).resolve()
                if not target.is_relative_to(root):
                    return kustomization, entry
                if target.is_dir():
                    pending.append(target)
    return None
