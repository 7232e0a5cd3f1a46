"""Layer 5: the API server (FastAPI), Argo CD's REST routes over the Application CRs.

May import: ``argosy.services``, ``argosy.core``, ``argosy.ports``, ``argosy.model`` — never adapters.
The composition root builds :class:`ApiDeps` (a Kube-like port, the namespace, a clock, an audit sink)
and serves ``create_app(deps)``. See docs/api.md.
"""

from argosy.api.app import create_app
from argosy.api.context import ApiDeps
from argosy.api.settings import KubeSettingsLoader, ServerSettings, SettingsLoader

__all__ = ["ApiDeps", "KubeSettingsLoader", "ServerSettings", "SettingsLoader", "create_app"]
