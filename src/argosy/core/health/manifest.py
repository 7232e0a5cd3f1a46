"""Parse Kubernetes manifests already in memory, the way Kubernetes tooling reads them.

PyYAML's safe loader turns unquoted timestamps into ``datetime``; Kubernetes (YAML -> JSON) keeps them
as strings, and health rules compare them as RFC 3339 text, so that resolver is removed here.
"""

from __future__ import annotations

from typing import Any

import yaml


class _K8sLoader(yaml.SafeLoader):
    """SafeLoader without the timestamp resolver."""


_K8sLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def load_yaml(text: str) -> Any:
    """One YAML document, timestamps kept as strings."""
    return yaml.load(text, Loader=_K8sLoader)  # noqa: S506 - a SafeLoader subclass


def load_all_yaml(text: str) -> list[Any]:
    """Every non-empty document of a multi-document YAML stream."""
    return [doc for doc in yaml.load_all(text, Loader=_K8sLoader) if doc is not None]
