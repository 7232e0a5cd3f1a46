"""The ports the SSO routes need: an LDAP password check and an HTTP client for OIDC and GitHub.

The API may not import adapters, so the composition root (``argosy.bootstrap.sso_backends``) builds
:class:`SsoBackends` from ``argosy.adapters.ldap`` and ``argosy.adapters.oidc`` and passes it in
``ApiDeps.sso``. Errors cross the boundary as :class:`SsoLoginError` with a short ``reason``; their text
never holds a password, a client secret, a code or a token.

May import: ``argosy.model``, ``argosy.ports`` and the standard library.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

__all__ = ["HttpAnswer", "SsoBackends", "SsoHttp", "SsoLoginError", "SsoUser"]


class SsoLoginError(Exception):
    """``reason``: ``invalid_credentials``, ``unknown_user``, ``ambiguous_user``, ``unavailable``,
    ``misconfigured`` or ``provider``."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class SsoUser:
    user_id: str
    username: str = ""
    email: str = ""
    name: str = ""
    groups: tuple[str, ...] = ()


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    json: Any  # the decoded JSON body, or None
    headers: Mapping[str, str]


class SsoHttp(Protocol):
    """Plain HTTPS calls to an identity provider. Raises :class:`SsoLoginError` (``unavailable``) when
    the provider cannot be reached; any HTTP status comes back in the answer."""

    async def get(self, url: str, *, headers: Mapping[str, str] | None = None) -> HttpAnswer: ...

    async def post_form(
        self, url: str, form: Mapping[str, str], *, headers: Mapping[str, str] | None = None
    ) -> HttpAnswer: ...


@dataclass(frozen=True)
class SsoBackends:
    # (core.sso.LdapConnector, username, password) -> the user, or SsoLoginError
    ldap_login: Callable[[Any, str, str], Awaitable[SsoUser]] | None = None
    http: SsoHttp | None = None
