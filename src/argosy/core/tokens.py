"""Signed session tokens and API tokens (HS256 JWTs) and their verification with revocation.

Pure (layer 1): PyJWT only signs and checks signatures here; every time check uses the ``now`` the caller
passes (PyJWT's own clock checks are switched off). The signing key is argocd-secret's
``server.secretkey`` (:func:`server_key`).

Claims: ``iss: argosy``; ``sub`` is the account name or ``proj:<project>:<role>``; ``jti`` the token
id; ``iat``/``nbf``/``exp`` in Unix seconds (``exp`` may be absent on API tokens that never expire);
``groups`` on session tokens; and ``cap`` (``login`` or ``apiKey``) on account tokens, which tells a
session token from an API token.

Validity rules (Argo CD's session manager, extended to our claims):

* **Session tokens** (``cap: login``): the account must exist, be enabled and have ``login``; valid
  until ``exp``; refused when the account's ``passwordMtime`` is later than ``iat`` (a password change
  signs every session out); refused when ``jti`` is in the caller's revoked-session set (logout).
* **Account API tokens** (``cap: apiKey``): the account must exist, be enabled and have ``apiKey``, and
  the ``jti`` must still be in the account's ``tokens`` list (deleting the entry revokes it; deleting
  the account revokes all of them); the entry's ``exp`` is honoured as well as the JWT's.
* **Project tokens** (``sub: proj:<p>:<r>``): the role must still exist and list the token, by ``jti``
  or, for tokens minted without one, by ``iat`` (Argo CD's legacy rule).
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable, Container, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

import jwt

from argosy.core.accounts import CAPABILITY_API_KEY, CAPABILITY_LOGIN, Accounts, TokenRecord

__all__ = [
    "ALGORITHM",
    "DEFAULT_SESSION_TTL",
    "ISSUER",
    "MIN_KEY_BYTES",
    "SERVER_KEY",
    "IssuedToken",
    "Principal",
    "ProjectTokens",
    "TokenConfigError",
    "TokenError",
    "generate_server_key",
    "issue_api_token",
    "issue_project_token",
    "issue_session_token",
    "issue_sso_session_token",
    "project_role_tokens",
    "server_key",
    "verify_token",
]

ISSUER = "argosy"
ALGORITHM = "HS256"
SERVER_KEY = "server.secretkey"
MIN_KEY_BYTES = 32  # RFC 7518 §3.2: an HS256 key at least as long as the hash
DEFAULT_SESSION_TTL = timedelta(hours=24)  # Argo CD's users.session.duration default
PROJECT_PREFIX = "proj:"

TokenKind = Literal["session", "apiKey", "project", "sso"]
CAPABILITY_SSO = "sso"  # ``cap`` of a session token from an SSO login (no local account behind it)
# (project, role) -> the role's token list, or None if the project or the role does not exist.
ProjectTokens = Callable[[str, str], Sequence[TokenRecord] | None]


class TokenConfigError(ValueError):
    """The signing key is missing or too short."""


class TokenError(Exception):
    """A token is not valid. ``reason`` is a short machine-readable code; the text never holds the token."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class Principal:
    """Who a verified token speaks for."""

    subject: str
    kind: TokenKind
    token_id: str
    issued_at: int
    expires_at: int | None
    groups: tuple[str, ...] = ()
    email: str = ""  # SSO sessions: the connector's email, for RBAC ``scopes: [groups, email]``

    @property
    def project_role(self) -> tuple[str, str] | None:
        if self.kind != "project":
            return None
        _, project, role = self.subject.split(":", 2)
        return project, role


@dataclass(frozen=True)
class IssuedToken:
    token: str
    record: TokenRecord
    claims: Mapping[str, Any]

    def __repr__(self) -> str:
        return f"IssuedToken(record={self.record!r}, token=<redacted>)"


def server_key(argocd_secret: Mapping[str, str | bytes]) -> bytes:
    """The HS256 key from argocd-secret ``server.secretkey`` (decoded Secret data)."""
    raw = argocd_secret.get(SERVER_KEY)
    if raw is None or raw in {"", b""}:
        raise TokenConfigError(f"argocd-secret has no {SERVER_KEY}")
    key = raw.encode("utf-8") if isinstance(raw, str) else bytes(raw)
    if len(key) < MIN_KEY_BYTES:
        raise TokenConfigError(f"{SERVER_KEY} is shorter than {MIN_KEY_BYTES} bytes")
    return key


def generate_server_key(nbytes: int = MIN_KEY_BYTES) -> bytes:
    """A fresh random signing key (stored base64-encoded by Kubernetes as Secret data)."""
    # URL-safe text, so the decoded Secret value is also valid UTF-8 for tools that print it.
    return secrets.token_urlsafe(max(nbytes, MIN_KEY_BYTES)).encode("ascii")


def _check_key(key: bytes) -> None:
    if len(key) < MIN_KEY_BYTES:
        raise TokenConfigError(f"the signing key is shorter than {MIN_KEY_BYTES} bytes")


def _ts(moment: datetime) -> int:
    if moment.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return int(moment.timestamp())


def _sign(key: bytes, claims: Mapping[str, Any]) -> str:
    _check_key(key)
    return jwt.encode(dict(claims), key, algorithm=ALGORITHM)


def issue_session_token(
    key: bytes,
    account: str,
    now: datetime,
    *,
    ttl: timedelta = DEFAULT_SESSION_TTL,
    groups: Sequence[str] = (),
    token_id: str | None = None,
) -> IssuedToken:
    """A login session for a local account (the caller has checked the password and ``login``)."""
    iat = _ts(now)
    exp = iat + int(ttl.total_seconds())
    jti = token_id or str(uuid.uuid4())
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "sub": account,
        "jti": jti,
        "iat": iat,
        "nbf": iat,
        "exp": exp,
        "cap": CAPABILITY_LOGIN,
    }
    if groups:
        claims["groups"] = list(groups)
    return IssuedToken(_sign(key, claims), TokenRecord(jti, iat, exp), claims)


def issue_sso_session_token(
    key: bytes,
    subject: str,
    now: datetime,
    *,
    connector: str,
    groups: Sequence[str] = (),
    email: str = "",
    name: str = "",
    ttl: timedelta = DEFAULT_SESSION_TTL,
) -> IssuedToken:
    """A session for an SSO identity (LDAP, OIDC, GitHub): ``cap: sso``, the connector in ``conn``.
    Valid until ``exp`` unless logged out; it names no local account (see :func:`verify_token`)."""
    iat = _ts(now)
    exp = iat + int(ttl.total_seconds())
    jti = str(uuid.uuid4())
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "sub": subject,
        "jti": jti,
        "iat": iat,
        "nbf": iat,
        "exp": exp,
        "cap": CAPABILITY_SSO,
        "conn": connector,
        "groups": list(groups),
    }
    if email:
        claims["email"] = email
    if name:
        claims["name"] = name
    return IssuedToken(_sign(key, claims), TokenRecord(jti, iat, exp), claims)


def _api_claims(
    subject: str, now: datetime, expires_in: timedelta | None, token_id: str | None
) -> dict[str, Any]:
    iat = _ts(now)
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "sub": subject,
        "jti": token_id or str(uuid.uuid4()),
        "iat": iat,
        "nbf": iat,
    }
    if expires_in is not None and expires_in > timedelta(0):
        claims["exp"] = iat + int(expires_in.total_seconds())
    return claims


def issue_api_token(
    key: bytes,
    account: str,
    now: datetime,
    *,
    expires_in: timedelta | None = None,
    token_id: str | None = None,
) -> IssuedToken:
    """An API token for an account with ``apiKey``; store ``record`` in ``accounts.<name>.tokens``."""
    if account.startswith(PROJECT_PREFIX):
        raise ValueError("account names cannot start with 'proj:'")
    claims = _api_claims(account, now, expires_in, token_id)
    claims["cap"] = CAPABILITY_API_KEY
    record = TokenRecord(claims["jti"], claims["iat"], claims.get("exp", 0))
    return IssuedToken(_sign(key, claims), record, claims)


def issue_project_token(
    key: bytes,
    project: str,
    role: str,
    now: datetime,
    *,
    expires_in: timedelta | None = None,
    token_id: str | None = None,
) -> IssuedToken:
    """A project role token (``argocd proj role create-token``); store ``record`` in the role's jwtTokens."""
    if ":" in project or not project or not role:
        raise ValueError("project and role must be non-empty and the project may not contain ':'")
    claims = _api_claims(f"{PROJECT_PREFIX}{project}:{role}", now, expires_in, token_id)
    record = TokenRecord(claims["jti"], claims["iat"], claims.get("exp", 0))
    return IssuedToken(_sign(key, claims), record, claims)


def project_role_tokens(projects: Sequence[Mapping[str, Any]]) -> ProjectTokens:
    """Build a :data:`ProjectTokens` lookup from AppProject objects.

    A role's tokens are ``spec.roles[].jwtTokens`` merged with ``status.jwtTokensByRole[<role>].items``
    (where Argo CD keeps them since 2.x), de-duplicated by id and iat.
    """
    table: dict[tuple[str, str], list[TokenRecord]] = {}
    for proj in projects:
        name = str((proj.get("metadata") or {}).get("name", ""))
        spec = proj.get("spec") or {}
        by_role = ((proj.get("status") or {}).get("jwtTokensByRole")) or {}
        for role in spec.get("roles") or []:
            if not isinstance(role, Mapping) or not role.get("name"):
                continue
            role_name = str(role["name"])
            items = list(role.get("jwtTokens") or [])
            status_entry = by_role.get(role_name) if isinstance(by_role, Mapping) else None
            if isinstance(status_entry, Mapping):
                items += list(status_entry.get("items") or [])
            seen: set[tuple[str, int]] = set()
            records: list[TokenRecord] = []
            for item in items:
                if not isinstance(item, Mapping):
                    continue
                rec = TokenRecord(
                    str(item.get("id") or ""), int(item.get("iat") or 0), int(item.get("exp") or 0)
                )
                if (rec.id, rec.issued_at) not in seen:
                    seen.add((rec.id, rec.issued_at))
                    records.append(rec)
            table[(name, role_name)] = records

    def lookup(project: str, role: str) -> Sequence[TokenRecord] | None:
        return table.get((project, role))

    return lookup


def _decode(token: str, key: bytes) -> dict[str, Any]:
    _check_key(key)
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            issuer=ISSUER,
            options={
                "require": ["iss", "sub", "iat"],
                "verify_exp": False,  # checked below against the injected clock
                "verify_nbf": False,
                "verify_iat": False,
                "verify_aud": False,
            },
        )
    except jwt.InvalidIssuerError:
        raise TokenError("issuer", "the token was not issued by this server") from None
    except jwt.MissingRequiredClaimError as exc:
        raise TokenError("malformed", f"the token has no {exc.claim} claim") from None
    except jwt.InvalidSignatureError:
        raise TokenError("signature", "the token signature does not verify") from None
    except jwt.InvalidTokenError as exc:
        raise TokenError("malformed", f"the token cannot be read ({type(exc).__name__})") from None
    return claims


def _int_claim(claims: Mapping[str, Any], name: str) -> int | None:
    value = claims.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TokenError("malformed", f"the {name} claim is not a number")
    return int(value)


def verify_token(
    token: str,
    key: bytes,
    now: datetime,
    *,
    accounts: Accounts,
    project_tokens: ProjectTokens | None = None,
    revoked_sessions: Container[str] = (),
    leeway: timedelta = timedelta(0),
) -> Principal:
    """Verify signature, times and revocation; return the :class:`Principal` or raise :class:`TokenError`.

    Reasons: ``signature``, ``malformed``, ``issuer``, ``expired``, ``not_yet_valid``, ``unknown_account``,
    ``disabled``, ``capability``, ``revoked``, ``password_changed``, ``unknown_role``.
    """
    claims = _decode(token, key)
    now_s = _ts(now)
    slack = int(leeway.total_seconds())
    iat = _int_claim(claims, "iat")
    exp = _int_claim(claims, "exp")
    nbf = _int_claim(claims, "nbf")
    assert iat is not None  # required by _decode
    if exp is not None and now_s >= exp + slack:
        raise TokenError("expired", "the token has expired")
    if nbf is not None and now_s + slack < nbf:
        raise TokenError("not_yet_valid", "the token is not valid yet")
    sub = claims.get("sub")
    jti = claims.get("jti")
    if not isinstance(sub, str) or not sub:
        raise TokenError("malformed", "the sub claim is not a string")
    if jti is not None and not isinstance(jti, str):
        raise TokenError("malformed", "the jti claim is not a string")
    raw_groups = claims.get("groups") or []
    groups = tuple(str(g) for g in raw_groups) if isinstance(raw_groups, list) else ()

    if sub.startswith(PROJECT_PREFIX):
        return _verify_project(sub, jti, iat, exp, now=now, project_tokens=project_tokens)
    if claims.get("cap") == CAPABILITY_SSO:
        if not jti:
            raise TokenError("malformed", "the token has no jti claim")
        if accounts.get(sub) is not None:  # an SSO identity never speaks for a local account
            raise TokenError("unknown_account", f"{sub} is a local account, not an SSO identity")
        if jti in revoked_sessions:
            raise TokenError("revoked", "the session has been logged out")
        email = claims.get("email")
        return Principal(sub, "sso", jti, iat, exp, groups, email if isinstance(email, str) else "")

    account = accounts.get(sub)
    if account is None:
        raise TokenError("unknown_account", f"account {sub} does not exist")
    if not account.enabled:
        raise TokenError("disabled", f"account {sub} is disabled")
    if not jti:
        raise TokenError("malformed", "the token has no jti claim")
    cap = claims.get("cap")
    if cap == CAPABILITY_LOGIN:
        if not account.has(CAPABILITY_LOGIN):
            raise TokenError("capability", f"account {sub} does not have the login capability")
        if account.password_mtime is not None and iat < int(account.password_mtime.timestamp()):
            raise TokenError(
                "password_changed", "the account password has changed since the token was issued"
            )
        if jti in revoked_sessions:
            raise TokenError("revoked", "the session has been logged out")
        return Principal(sub, "session", jti, iat, exp, groups)
    if cap == CAPABILITY_API_KEY:
        if not account.has(CAPABILITY_API_KEY):
            raise TokenError("capability", f"account {sub} does not have the apiKey capability")
        record = account.token(jti)
        if record is None:
            raise TokenError("revoked", f"account {sub} does not have token with id {jti}")
        if record.expired(now):
            raise TokenError("expired", "the token has expired")
        return Principal(sub, "apiKey", jti, iat, exp, ())
    raise TokenError("malformed", "the token has no recognised cap claim")


def _verify_project(
    sub: str,
    jti: str | None,
    iat: int,
    exp: int | None,
    *,
    now: datetime,
    project_tokens: ProjectTokens | None,
) -> Principal:
    parts = sub.split(":")
    if len(parts) != 3 or not parts[1] or not parts[2]:
        raise TokenError("malformed", "a project token subject is proj:<project>:<role>")
    _, project, role = parts
    records = project_tokens(project, role) if project_tokens is not None else None
    if records is None:
        raise TokenError("unknown_role", f"role {role} does not exist in project {project}")
    if jti:
        record = next((r for r in records if r.id == jti), None)
    else:
        record = next((r for r in records if not r.id and r.issued_at == iat), None)
    if record is None:
        raise TokenError("revoked", f"role {role} of project {project} does not have this token")
    if record.expired(now):
        raise TokenError("expired", "the token has expired")
    return Principal(sub, "project", jti or "", iat, exp, ())
