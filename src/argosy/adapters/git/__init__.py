"""Layer 3 adapter: Git through the ``git`` command line, with Argo CD-compatible repository credentials.

May import: ``argosy.model`` (credentials, resolved revisions, URL normalisation), the standard
library and the ``git``/``ssh``/``git-lfs`` programs. Never ``argosy.core`` or another adapter: the
caller picks credentials with ``argosy.core.repocreds`` and passes them in. See docs/git.md.
"""

from argosy.adapters.git.client import GitClient, GitStats
from argosy.adapters.git.errors import GitError, GitErrorKind, Scrubber

__all__ = ["GitClient", "GitError", "GitErrorKind", "GitStats", "Scrubber"]
