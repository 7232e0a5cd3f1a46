"""Authenticate a username and password against LDAP the way Dex's LDAP connector does.

1. Refuse an empty password (an LDAP simple bind with an empty password is an *unauthenticated* bind
   that many servers accept: RFC 4513 §5.1.2).
2. Bind as ``bind_dn``/``bind_password`` (anonymous when ``bind_dn`` is empty) and search
   ``user_search.base_dn`` for ``(&<filter>(<username attr>=<escaped username>))``. No entry: unknown
   user; more than one: ambiguous (refused).
3. Bind as the entry's DN with the given password on a fresh connection.
4. For each user matcher, search ``group_search.base_dn`` for
   ``(&<filter>(<groupAttr>=<escaped value of the user's userAttr>))`` (``DN`` means the entry DN) and
   collect the groups' ``name_attr`` values.

Transport: ``insecure_no_ssl`` is plain LDAP, ``start_tls`` upgrades a plain connection, otherwise
LDAPS. Certificates are verified unless ``insecure_skip_verify``; ``root_ca`` (a file) or
``root_ca_data`` (PEM text) add trust anchors.

Errors are :class:`LdapAuthError` with a ``reason`` (``invalid_credentials``, ``unknown_user``,
``ambiguous_user``, ``unavailable``, ``misconfigured``). Their text is built here from fixed words and
the LDAP result code; the bind password and the user's password are never in it (and are scrubbed in
case a library message ever quoted them).
"""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ldap3 import BASE, LEVEL, SUBTREE, Connection, Server, Tls
from ldap3.core.exceptions import LDAPException
from ldap3.utils.conv import escape_filter_chars

__all__ = [
    "LdapAuthError",
    "LdapAuthenticator",
    "LdapConfig",
    "LdapGroupSearch",
    "LdapIdentity",
    "LdapUserSearch",
]

_REDACTED = "<redacted>"


class LdapAuthError(Exception):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class LdapUserSearch:
    base_dn: str
    username: str = "uid"
    filter: str = ""
    id_attr: str = "uid"
    email_attr: str = "mail"
    name_attr: str = ""
    preferred_username_attr: str = ""
    scope: str = "sub"


@dataclass(frozen=True)
class LdapGroupSearch:
    base_dn: str
    user_matchers: Sequence[tuple[str, str]]  # (userAttr, groupAttr)
    filter: str = ""
    name_attr: str = "cn"
    scope: str = "sub"


@dataclass(frozen=True)
class LdapConfig:
    host: str
    port: int
    user_search: LdapUserSearch
    group_search: LdapGroupSearch | None = None
    bind_dn: str = ""
    bind_password: str = field(default="", repr=False)
    insecure_no_ssl: bool = False
    start_tls: bool = False
    insecure_skip_verify: bool = False
    root_ca: str = ""
    root_ca_data: str = ""
    connect_timeout: float = 5.0
    receive_timeout: float = 10.0


@dataclass(frozen=True)
class LdapIdentity:
    user_id: str
    username: str
    email: str
    name: str
    groups: tuple[str, ...]
    dn: str
    preferred_username: str = ""


def _scope(value: str) -> str:
    scopes: dict[str, str] = {"sub": str(SUBTREE), "one": str(LEVEL), "base": str(BASE)}
    return scopes.get(value, str(SUBTREE))


def _and_filter(base: str, attr: str, value: str) -> str:
    clause = f"({attr}={escape_filter_chars(value)})"
    base = base.strip()
    if not base:
        return clause
    if not base.startswith("("):
        base = f"({base})"
    return f"(&{base}{clause})"


def _first(entry: dict[str, Any], attr: str) -> str:
    if not attr:
        return ""
    if attr.upper() == "DN":
        return str(entry.get("dn", ""))
    values = _values(entry, attr)
    return values[0] if values else ""


def _values(entry: dict[str, Any], attr: str) -> list[str]:
    if attr.upper() == "DN":
        return [str(entry.get("dn", ""))]
    attributes: dict[str, Any] = entry.get("attributes") or {}
    for key, value in attributes.items():  # attribute names are case-insensitive
        if key.lower() == attr.lower():
            if isinstance(value, list | tuple):
                return [v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v) for v in value]
            if value in (None, b"", ""):
                return []
            return [value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)]
    return []


class LdapAuthenticator:
    """One configured LDAP directory. Thread-safe: each call opens its own connections."""

    def __init__(self, config: LdapConfig) -> None:
        if not config.user_search.base_dn or not config.user_search.username:
            raise LdapAuthError("misconfigured", "userSearch needs baseDN and username")
        self.config = config

    def __repr__(self) -> str:
        return f"LdapAuthenticator(host={self.config.host!r}, port={self.config.port})"

    # -- connections ------------------------------------------------------------------------------

    def _server(self) -> Server:
        cfg = self.config
        tls: Tls | None = None
        use_ssl = not cfg.insecure_no_ssl and not cfg.start_tls
        if use_ssl or cfg.start_tls:
            tls = Tls(
                validate=ssl.CERT_NONE if cfg.insecure_skip_verify else ssl.CERT_REQUIRED,
                ca_certs_file=cfg.root_ca or None,
                ca_certs_data=cfg.root_ca_data or None,
                version=ssl.PROTOCOL_TLS_CLIENT,
            )
        return Server(
            cfg.host,
            port=cfg.port,
            use_ssl=use_ssl,
            tls=tls,
            get_info="NO_INFO",
            connect_timeout=cfg.connect_timeout,
        )

    def _bind(self, dn: str, password: str, *, secrets: Sequence[str]) -> Connection | None:
        """A bound connection, or None for invalid credentials. Other failures raise ``unavailable``."""
        cfg = self.config
        conn: Connection | None = None
        try:
            conn = Connection(
                self._server(),
                user=dn or None,
                password=password or None,
                auto_bind="NONE",
                raise_exceptions=False,
                read_only=True,
                # ldap3 packs this into a C struct: it must be a whole number of seconds.
                receive_timeout=max(1, int(cfg.receive_timeout)),
            )
            conn.open()
            if cfg.start_tls and not conn.start_tls():
                raise LdapAuthError("unavailable", self._describe("StartTLS failed", conn, secrets))
            if conn.bind():
                bound, conn = conn, None
                return bound
            if (conn.result or {}).get("result") == 49:  # invalidCredentials
                return None
            raise LdapAuthError("unavailable", self._describe("bind failed", conn, secrets))
        except LdapAuthError:
            raise
        except Exception as exc:  # ldap3 raises LDAPException but also socket and struct errors
            message = self._scrub(f"LDAP server unreachable: {type(exc).__name__}: {exc}", secrets)
            raise LdapAuthError("unavailable", message) from None
        finally:
            if conn is not None:
                self._close(conn)

    @staticmethod
    def _close(conn: Connection) -> None:
        with contextlib.suppress(Exception):
            conn.unbind()
        # ldap3 leaves the socket of a failed connect() open (the connection never counted as open).
        sock = getattr(conn, "socket", None)
        if sock is not None:
            with contextlib.suppress(Exception):
                sock.close()

    def _describe(self, what: str, conn: Connection, secrets: Sequence[str]) -> str:
        result = conn.result or {}
        text = f"{what}: {result.get('description', 'error')} ({result.get('result', '?')})"
        if result.get("message"):
            text += f": {result['message']}"
        return self._scrub(text, secrets)

    @staticmethod
    def _scrub(text: str, secrets: Sequence[str]) -> str:
        for secret in secrets:
            if secret:
                text = text.replace(secret, _REDACTED)
        return text

    def _search(
        self, conn: Connection, base: str, query: str, *, scope: str, attrs: list[str], secrets: Sequence[str]
    ) -> list[dict[str, Any]]:
        try:
            ok = conn.search(base, query, search_scope=_scope(scope), attributes=attrs or None)
        except (LDAPException, OSError) as exc:
            message = self._scrub(f"LDAP search failed: {type(exc).__name__}: {exc}", secrets)
            raise LdapAuthError("unavailable", message) from None
        result = conn.result or {}
        if not ok and result.get("result") not in (0, 32):  # 32: noSuchObject (empty base) counts as empty
            raise LdapAuthError("unavailable", self._describe("LDAP search failed", conn, secrets))
        return [e for e in (conn.response or []) if e.get("type") == "searchResEntry"]

    # -- the flow ---------------------------------------------------------------------------------

    def authenticate(self, username: str, password: str) -> LdapIdentity:
        cfg = self.config
        secrets = (cfg.bind_password, password)
        if not username:
            raise LdapAuthError("unknown_user", "no username given")
        if not password:
            raise LdapAuthError("invalid_credentials", "invalid username or password")
        us = cfg.user_search
        user_attrs = [
            a for a in (us.id_attr, us.email_attr, us.name_attr, us.preferred_username_attr, us.username) if a
        ]
        if cfg.group_search is not None:
            user_attrs += [ua for ua, _ in cfg.group_search.user_matchers if ua.upper() != "DN"]
        user_attrs = sorted({a for a in user_attrs if a.upper() != "DN"})

        service = self._bind(cfg.bind_dn, cfg.bind_password, secrets=secrets)
        if service is None:
            raise LdapAuthError(
                "misconfigured", "the service account bind was refused (check bindDN and bindPW)"
            )
        try:
            entries = self._search(
                service,
                us.base_dn,
                _and_filter(us.filter, us.username, username),
                scope=us.scope,
                attrs=user_attrs,
                secrets=secrets,
            )
            if not entries:
                raise LdapAuthError("unknown_user", "invalid username or password")
            if len(entries) > 1:
                raise LdapAuthError("ambiguous_user", f"the user search matched {len(entries)} entries")
            entry = entries[0]
            user_dn = str(entry.get("dn", ""))

            user_conn = self._bind(user_dn, password, secrets=secrets)
            if user_conn is None:
                raise LdapAuthError("invalid_credentials", "invalid username or password")
            self._close(user_conn)

            groups = self._groups(service, entry, secrets)
        finally:
            self._close(service)

        user_id = _first(entry, us.id_attr)
        if not user_id:
            raise LdapAuthError("misconfigured", f"the user entry has no {us.id_attr} attribute")
        return LdapIdentity(
            user_id=user_id,
            username=_first(entry, us.username) or username,
            email=_first(entry, us.email_attr),
            name=_first(entry, us.name_attr),
            groups=groups,
            dn=user_dn,
            preferred_username=_first(entry, us.preferred_username_attr),
        )

    def _groups(self, conn: Connection, entry: dict[str, Any], secrets: Sequence[str]) -> tuple[str, ...]:
        gs = self.config.group_search
        if gs is None:
            return ()
        found: list[str] = []
        for user_attr, group_attr in gs.user_matchers:
            for value in _values(entry, user_attr):
                query = _and_filter(gs.filter, group_attr, value)
                for group in self._search(
                    conn, gs.base_dn, query, scope=gs.scope, attrs=[gs.name_attr], secrets=secrets
                ):
                    for name in _values(group, gs.name_attr):
                        if name not in found:
                            found.append(name)
        return tuple(found)
