"""Deployment files shipped inside the package: the Application and AppProject CRDs.

``crd_text("application")`` returns the YAML of ``crds/application-crd.yaml`` (package data read with
``importlib.resources``); the repository's ``deploy/crds/`` holds identical copies (a test checks).
"""

from __future__ import annotations

from importlib import resources

__all__ = ["CRD_NAMES", "crd_text"]

CRD_NAMES = ("application", "appproject")


def crd_text(name: str) -> str:
    """The CRD manifest ``crds/<name>-crd.yaml`` (``name`` is one of :data:`CRD_NAMES`)."""
    if name not in CRD_NAMES:
        raise ValueError(f"unknown CRD {name!r}; known: {', '.join(CRD_NAMES)}")
    return resources.files(__package__).joinpath("crds", f"{name}-crd.yaml").read_text(encoding="utf-8")
