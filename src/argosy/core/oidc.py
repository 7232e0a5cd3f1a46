"""The pure parts of the browser SSO flows (OIDC authorization code with PKCE, GitHub OAuth). Layer 1.

* :func:`new_flow` makes ``state``, ``nonce`` and a PKCE verifier (RFC 7636, ``S256``);
  :func:`seal_flow` / :func:`open_flow` keep them, with the return URL and the connector, in a cookie
  encrypted and authenticated with AES-GCM under a key derived (HKDF-SHA256) from argocd-secret
  ``server.secretkey``, valid for :data:`FLOW_TTL`. Nothing is kept on the server, so any replica can
  finish a login another one started.
* :func:`verify_id_token` checks an ID token against the provider's JWKS: signature (RS/PS/ES/EdDSA
  only; never ``none`` or HS*), ``iss``, ``aud`` (and ``azp`` when several audiences), ``exp``,
  ``iat``/``nbf`` with a small leeway, and ``nonce``. PyJWT checks the signature; every time check uses
  the caller's ``now``.
* :func:`groups_from_claims` reads the groups claim.

URL building and the same-origin check of ``return_url`` live in ``argosy.api.auth`` (they need
``urllib``, which the pure layers do not import).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import jwt
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

__all__ = [
    "ASYMMETRIC",
    "FLOW_TTL",
    "Flow",
    "IdTokenError",
    "groups_from_claims",
    "new_flow",
    "open_flow",
    "pkce_challenge",
    "seal_flow",
    "verify_id_token",
]

FLOW_TTL = timedelta(minutes=5)
ASYMMETRIC = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")
LEEWAY = timedelta(minutes=1)


class IdTokenError(Exception):
    """An ID token, a flow cookie or a callback is not acceptable. The text never holds a token."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def pkce_challenge(verifier: str) -> str:
    """RFC 7636 §4.2 ``S256``: BASE64URL(SHA256(ASCII(verifier)))."""
    return _b64url(hashlib.sha256(verifier.encode("ascii")).digest())


@dataclass(frozen=True)
class Flow:
    state: str
    nonce: str
    verifier: str = field(repr=False)
    connector: str  # "" for oidc.config, else the dex.config connector id
    return_url: str
    expires: int  # Unix seconds

    @property
    def challenge(self) -> str:
        return pkce_challenge(self.verifier)


def new_flow(connector: str, return_url: str, now: datetime) -> Flow:
    return Flow(
        state=secrets.token_urlsafe(24),
        nonce=secrets.token_urlsafe(24),
        verifier=secrets.token_urlsafe(48),  # 64 characters of [A-Za-z0-9_-], inside 43..128
        connector=connector,
        return_url=return_url,
        expires=int((now + FLOW_TTL).timestamp()),
    )


def _flow_key(server_key: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"argosy oauth flow").derive(server_key)


def seal_flow(flow: Flow, server_key: bytes) -> str:
    plain = json.dumps(
        {
            "s": flow.state,
            "n": flow.nonce,
            "v": flow.verifier,
            "c": flow.connector,
            "r": flow.return_url,
            "e": flow.expires,
        },
        separators=(",", ":"),
    ).encode("utf-8")
    iv = secrets.token_bytes(12)
    return _b64url(iv + AESGCM(_flow_key(server_key)).encrypt(iv, plain, b"flow"))


def open_flow(sealed: str, state: str, server_key: bytes, now: datetime) -> Flow:
    """Decrypt the flow cookie and check it belongs to this callback (``state``) and is fresh."""
    if not sealed:
        raise IdTokenError("state", "no login in progress (the state cookie is missing)")
    try:
        raw = base64.urlsafe_b64decode(sealed + "=" * (-len(sealed) % 4))
        plain = AESGCM(_flow_key(server_key)).decrypt(raw[:12], raw[12:], b"flow")
        doc = json.loads(plain)
        flow = Flow(
            state=str(doc["s"]),
            nonce=str(doc["n"]),
            verifier=str(doc["v"]),
            connector=str(doc["c"]),
            return_url=str(doc["r"]),
            expires=int(doc["e"]),
        )
    except (ValueError, KeyError, TypeError, InvalidTag):
        raise IdTokenError("state", "the state cookie is not valid") from None
    if not state or not hmac.compare_digest(flow.state.encode(), state.encode()):
        raise IdTokenError("state", "the state does not match the login in progress")
    if now.timestamp() >= flow.expires:
        raise IdTokenError("state", "the login took too long; start again")
    return flow


def verify_id_token(
    token: str,
    jwks: Mapping[str, Any],
    *,
    issuer: str,
    audiences: Sequence[str],
    nonce: str,
    now: datetime,
    client_id: str = "",
    leeway: timedelta = LEEWAY,
) -> dict[str, Any]:
    """The verified claims of ``token`` or :class:`IdTokenError` (``signature``, ``malformed``,
    ``issuer``, ``audience``, ``expired``, ``not_yet_valid``, ``nonce``)."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise IdTokenError("malformed", "the ID token is not a JWT") from None
    alg = header.get("alg")
    if alg not in ASYMMETRIC:
        raise IdTokenError("signature", f"ID token algorithm {alg!r} is not accepted")
    try:
        keyset = jwt.PyJWKSet.from_dict(dict(jwks))
    except jwt.PyJWTError:
        raise IdTokenError("signature", "the provider's JWKS holds no usable key") from None
    kid = header.get("kid")
    candidates = [
        k for k in keyset.keys if (not kid or k.key_id == kid) and (k.public_key_use in (None, "sig"))
    ]
    if not candidates:
        raise IdTokenError("signature", "no key of the provider's JWKS matches the ID token")
    claims: dict[str, Any] | None = None
    for key in candidates:
        try:
            claims = jwt.decode(
                token,
                key=key.key,
                algorithms=[alg],
                options={
                    "verify_signature": True,
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                    "verify_aud": False,
                    "verify_iss": False,
                    "require": ["iss", "sub", "aud", "exp", "iat"],
                },
            )
            break
        except jwt.MissingRequiredClaimError as exc:
            raise IdTokenError("malformed", f"the ID token has no {exc.claim} claim") from None
        except jwt.PyJWTError:
            continue
    if claims is None:
        raise IdTokenError("signature", "the ID token signature does not verify")
    if claims.get("iss") != issuer:
        raise IdTokenError("issuer", "the ID token was issued by another issuer")
    aud = claims.get("aud")
    auds = (
        [aud]
        if isinstance(aud, str)
        else [a for a in aud if isinstance(a, str)]
        if isinstance(aud, list)
        else []
    )
    if not set(auds) & set(audiences):
        raise IdTokenError("audience", "the ID token is meant for another client")
    azp = claims.get("azp")
    if len(auds) > 1 and client_id and azp is not None and azp not in audiences:
        raise IdTokenError("audience", "the ID token's authorised party is another client")
    slack = leeway.total_seconds()
    now_s = now.timestamp()
    try:
        exp = float(claims["exp"])
        nbf = float(claims.get("nbf", 0))
        iat = float(claims["iat"])
    except (TypeError, ValueError):
        raise IdTokenError("malformed", "the ID token's times are not numbers") from None
    if now_s >= exp + slack:
        raise IdTokenError("expired", "the ID token has expired")
    if now_s + slack < nbf or now_s + slack < iat:
        raise IdTokenError("not_yet_valid", "the ID token is not valid yet")
    if nonce and not hmac.compare_digest(str(claims.get("nonce", "")).encode(), nonce.encode()):
        raise IdTokenError("nonce", "the ID token's nonce does not match the login")
    return claims


def groups_from_claims(claims: Mapping[str, Any], claim: str = "groups") -> tuple[str, ...]:
    """The groups claim as a tuple of strings (a single string counts as one group)."""
    raw = claims.get(claim)
    if isinstance(raw, str):
        return (raw,) if raw else ()
    if isinstance(raw, list):
        return tuple(dict.fromkeys(str(g) for g in raw if isinstance(g, str | int) and str(g)))
    return ()
