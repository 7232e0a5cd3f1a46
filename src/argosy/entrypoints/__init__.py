"""Layer 7, entry points: the ``argosy`` console script and the commands that need the whole
composition root (``argosy server``, ``argosy controller``, ``argosy install``, ``argosy quickstart``).

May import: everything, including ``argosy.bootstrap`` and ``argosy.cli``. Nothing imports this
package.
"""
