"""Layer 2, ports: ``typing.Protocol`` descriptions of every side effect the services use.

May import: ``argosy.model`` and the standard library. Adapters satisfy these protocols
structurally; the composition root (or a test) passes them to the services.
"""
