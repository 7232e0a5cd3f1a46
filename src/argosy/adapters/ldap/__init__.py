"""Layer 3 adapter: LDAP authentication (Dex's LDAP connector semantics) over ``ldap3``.

May import: the standard library and ``ldap3``. Never ``argosy.core``: the service layer copies the
parsed ``dex.config`` connector (``argosy.core.sso.LdapConnector``) into :class:`LdapConfig`.
"""

from argosy.adapters.ldap.client import (
    LdapAuthenticator,
    LdapAuthError,
    LdapConfig,
    LdapGroupSearch,
    LdapIdentity,
    LdapUserSearch,
)

__all__ = [
    "LdapAuthError",
    "LdapAuthenticator",
    "LdapConfig",
    "LdapGroupSearch",
    "LdapIdentity",
    "LdapUserSearch",
]
