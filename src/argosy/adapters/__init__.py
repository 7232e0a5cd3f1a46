"""Layer 3, the I/O edge: processes, files, HTTP, Kubernetes and Git.

May import: ``argosy.model``, ``argosy.ports`` and third-party I/O libraries. Adapters never import
each other, ``argosy.core`` or ``argosy.services``.
"""
