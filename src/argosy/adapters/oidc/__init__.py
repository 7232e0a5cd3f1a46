"""Layer 3 adapter: the HTTP side of SSO (OIDC discovery, JWKS, token exchange; GitHub's OAuth and
REST API) over ``httpx``. It satisfies ``argosy.ports.sso.SsoHttp``; the protocol logic (PKCE, state,
ID-token checks, group mapping) is pure and lives in ``argosy.core.oidc`` and ``argosy.core.sso``.

May import: the standard library, ``httpx`` and ``argosy.ports``.
"""

from argosy.adapters.oidc.client import OidcHttpClient

__all__ = ["OidcHttpClient"]
