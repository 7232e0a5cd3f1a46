"""Layer 5, the ``argosy`` command line (typer + rich).

May import: ``argosy.model``, ``argosy.core`` and ``argosy.adapters`` for local tooling commands
(``argosy cluster``, ``argosy admin ...``). Output formatting stays in this package.
"""
