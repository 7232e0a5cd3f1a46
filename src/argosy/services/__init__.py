"""Layer 4, services: async orchestration of the core through the ports.

May import: ``argosy.model``, ``argosy.core``, ``argosy.ports`` and the standard library. Never
``argosy.adapters``: the composition root (``argosy.bootstrap``) or a test passes adapters in.
"""
