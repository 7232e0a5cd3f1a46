"""Argosy: GitOps continuous delivery for Kubernetes, compatible with Argo CD's manifests.

Layers, from the bottom (a module imports only its own layer or lower ones; import-linter
enforces this in the test command):

``model`` (vocabulary) -> ``core`` (pure decisions) -> ``ports`` / ``adapters`` (I/O edge)
-> ``services`` (async orchestration) -> ``api`` / ``cli`` -> ``bootstrap`` (composition root).
"""

__version__ = "0.1.0.dev0"
