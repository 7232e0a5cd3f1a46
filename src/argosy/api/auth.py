"""``/auth/login`` and ``/auth/callback``: browser SSO as Argo CD serves it (spec §6.2, docs/auth.md).

* ``GET /auth/login?return_url=<url>`` starts the ``oidc.config`` login: discovery, then a redirect to
  the provider's authorization endpoint (authorization code, PKCE ``S256``, ``state`` and ``nonce``).
* ``GET /auth/login?connector=<id>&return_url=<url>`` starts the login of a ``dex.config`` connector;
  ``type: github`` is built in (GitHub's OAuth web flow, then its REST API for orgs and teams).
* ``GET /auth/callback`` finishes either flow: the code is exchanged, the ID token verified against the
  provider's JWKS (signature, ``iss``, ``aud``, ``exp``, ``nonce``), the groups mapped, the session
  cookie set (as ``POST /api/v1/session`` sets it) and the browser sent back to ``return_url`` when
  that is on this server's origin (argocd-cm ``url``), else to ``/``.

The flow's secrets (state, nonce, PKCE verifier) travel in an encrypted, HttpOnly cookie scoped to
``/auth`` (``argosy.core.oidc``). The callback URL is argocd-cm ``url`` + ``/auth/callback``, as in
Argo CD (the request's own base URL when ``url`` is unset).
"""

from __future__ import annotations

import base64
import json
import logging
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import jwt
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse

from argosy.api.accounts import set_session_cookie
from argosy.api.context import audit as audit_event
from argosy.api.context import ctx_of
from argosy.api.errors import GRPC_UNAVAILABLE, ApiError, bad_request, permission_denied, unauthenticated
from argosy.api.settings import ServerSettings
from argosy.core.oidc import (
    ASYMMETRIC,
    IdTokenError,
    new_flow,
    open_flow,
    seal_flow,
    verify_id_token,
)
from argosy.core.oidc import groups_from_claims as oidc_groups
from argosy.core.sso import (
    GithubConnector,
    OidcConfig,
    SsoConfigError,
    SsoIdentity,
    dex_connectors,
    github_groups,
    parse_dex_github_connectors,
    parse_oidc_config,
)
from argosy.core.tokens import Principal, issue_sso_session_token
from argosy.ports.sso import SsoHttp, SsoLoginError

__all__ = ["authorization_url", "provider_token_principal", "router", "safe_return_url"]

log = logging.getLogger(__name__)
router = APIRouter(prefix="/auth", tags=["SSO"])
FLOW_COOKIE = "argocd.oauthstate"
OIDC_CONNECTOR = ""  # the flow's connector for oidc.config
GITHUB_SCOPES = "user:email read:org"
MAX_PAGES = 10
JWKS_TTL = 300.0  # seconds a provider's discovery document and JWKS are reused for bearer ID tokens
_provider_keys: dict[str, tuple[float, Mapping[str, Any]]] = {}  # issuer -> (fetched at, JWKS)


def authorization_url(endpoint: str, params: Mapping[str, str]) -> str:
    sep = "&" if urlsplit(endpoint).query else "?"
    return f"{endpoint}{sep}{urlencode(dict(params), quote_via=quote)}"


def safe_return_url(return_url: str, own_url: str) -> str:
    """``return_url`` when it stays on this server's origin (a path, or an absolute URL with the scheme,
    host and port of ``own_url``), else ``/``. Blocks ``//host``, ``/\\host``, control characters and
    other schemes (``javascript:``)."""
    if not return_url or "\\" in return_url or any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in return_url):
        return "/"
    try:
        parts = urlsplit(return_url)
        own = urlsplit(own_url) if own_url else None
    except ValueError:  # e.g. "http://[" (a bad IPv6 literal)
        return "/"
    if not parts.scheme and not parts.netloc:
        return return_url if return_url.startswith("/") and not return_url.startswith("//") else "/"
    if own is None or not own.netloc or parts.scheme.lower() not in ("http", "https"):
        return "/"
    if parts.scheme.lower() == own.scheme.lower() and parts.netloc.lower() == own.netloc.lower():
        return return_url
    return "/"


def _own_url(request: Request, settings: ServerSettings) -> str:
    return (settings.cm.get("url") or str(request.base_url)).rstrip("/")


def _http(request: Request) -> SsoHttp:
    backends = ctx_of(request).deps.sso
    if backends is None or backends.http is None:
        raise ApiError(503, "SSO is not wired into this server", GRPC_UNAVAILABLE)
    return backends.http


def _unavailable(message: str) -> ApiError:
    return ApiError(503, message, GRPC_UNAVAILABLE)


async def _settings(request: Request) -> ServerSettings:
    settings = await ctx_of(request).settings.load()
    if settings.key is None:
        raise _unavailable("the server has no signing key")
    return settings


def _oidc(settings: ServerSettings) -> OidcConfig:
    try:
        cfg = parse_oidc_config(settings.cm.get("oidc.config", ""), dict(settings.secret))
    except SsoConfigError as exc:
        raise _unavailable(f"oidc.config: {exc}") from None
    if cfg is None:
        raise bad_request("SSO is not configured (argocd-cm oidc.config is empty)")
    return cfg


def _github(settings: ServerSettings, connector: str) -> GithubConnector:
    try:
        infos = dex_connectors(settings.cm.get("dex.config", ""))
        githubs = parse_dex_github_connectors(settings.cm.get("dex.config", ""), dict(settings.secret))
    except SsoConfigError as exc:
        raise _unavailable(f"dex.config: {exc}") from None
    for gh in githubs:
        if gh.id == connector:
            return gh
    for info in infos:
        if info.id == connector:
            if info.type == "ldap":
                raise bad_request(
                    f"connector {connector} takes a username and password: POST /api/v1/session"
                )
            raise bad_request(f"connector type {info.type} is not supported")
    raise bad_request(f"no connector {connector} in dex.config")


async def _discovery(http: SsoHttp, cfg: OidcConfig) -> Mapping[str, Any]:
    answer = await http.get(f"{cfg.issuer}/.well-known/openid-configuration")
    doc = answer.json
    if answer.status != 200 or not isinstance(doc, Mapping):
        raise _unavailable(f"OIDC discovery failed at {cfg.issuer} (HTTP {answer.status})")
    if str(doc.get("issuer", "")).rstrip("/") != cfg.issuer:
        raise _unavailable("OIDC discovery: the provider names another issuer")
    for key in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
        if not isinstance(doc.get(key), str):
            raise _unavailable(f"OIDC discovery: no {key}")
    return doc


# -- /auth/login -----------------------------------------------------------------------------------


@router.get("/login", summary="Start an SSO login (redirects to the identity provider)")
async def login(request: Request, return_url: str = "", connector: str = "") -> RedirectResponse:
    ctx = ctx_of(request)
    settings = await _settings(request)
    assert settings.key is not None
    own = _own_url(request, settings)
    callback = f"{own}/auth/callback"
    flow = new_flow(connector, safe_return_url(return_url, own), ctx.now())
    if connector:
        gh = _github(settings, connector)
        params = {
            "client_id": gh.client_id,
            "redirect_uri": gh.redirect_uri or callback,
            "scope": GITHUB_SCOPES,
            "state": flow.state,
        }
        target = authorization_url(gh.authorize_url, params)
    else:
        cfg = _oidc(settings)
        doc = await _discovery(_http(request), cfg)
        params = {
            "response_type": "code",
            "client_id": cfg.client_id,
            "redirect_uri": callback,
            "scope": " ".join(cfg.requested_scopes),
            "state": flow.state,
            "nonce": flow.nonce,
        }
        if cfg.enable_pkce:
            params |= {"code_challenge": flow.challenge, "code_challenge_method": "S256"}
        if cfg.requested_id_token_claims:
            params["claims"] = json.dumps({"id_token": dict(cfg.requested_id_token_claims)})
        target = authorization_url(str(doc["authorization_endpoint"]), params)
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        FLOW_COOKIE,
        seal_flow(flow, settings.key),
        httponly=True,
        secure=ctx.deps.secure_cookies,
        samesite="lax",
        max_age=300,
        path="/auth",
    )
    return response


# -- /auth/callback --------------------------------------------------------------------------------


def _basic(client_id: str, secret: str) -> str:
    # RFC 6749 §2.3.1: form-urlencode both parts before base64
    raw = f"{quote(client_id, safe='')}:{quote(secret, safe='')}".encode()
    return "Basic " + base64.b64encode(raw).decode("ascii")


async def _oidc_identity(
    request: Request, settings: ServerSettings, code: str, verifier: str, nonce: str
) -> SsoIdentity:
    cfg = _oidc(settings)
    http = _http(request)
    doc = await _discovery(http, cfg)
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": f"{_own_url(request, settings)}/auth/callback",
    }
    if cfg.enable_pkce:
        form["code_verifier"] = verifier
    headers: dict[str, str] = {}
    secret = cfg.client_secret.reveal()
    if secret:
        headers["Authorization"] = _basic(cfg.client_id, secret)
    else:
        form["client_id"] = cfg.client_id
    answer = await http.post_form(str(doc["token_endpoint"]), form, headers=headers)
    body = answer.json if isinstance(answer.json, Mapping) else {}
    if answer.status != 200 or not isinstance(body.get("id_token"), str):
        error = str(body.get("error", "")) or f"HTTP {answer.status}"
        raise SsoLoginError("provider", f"the provider refused the code exchange: {error}")
    keys = await http.get(str(doc["jwks_uri"]))
    if keys.status != 200 or not isinstance(keys.json, Mapping):
        raise _unavailable(f"the provider's JWKS could not be read (HTTP {keys.status})")
    claims = verify_id_token(
        body["id_token"],
        keys.json,
        issuer=cfg.issuer,
        audiences=cfg.audiences,
        nonce=nonce,
        now=ctx_of(request).now(),
        client_id=cfg.client_id,
    )
    return SsoIdentity(
        connector="oidc",
        user_id=str(claims["sub"]),
        username=str(claims.get("preferred_username") or claims.get("email") or claims["sub"]),
        email=str(claims.get("email") or ""),
        name=str(claims.get("name") or ""),
        groups=oidc_groups(claims),
    )


async def _github_pages(http: SsoHttp, url: str, token: str) -> list[Any]:
    items: list[Any] = []
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/vnd.github+json"}
    next_url: str | None = url
    for _ in range(MAX_PAGES):
        if next_url is None:
            break
        answer = await http.get(next_url, headers=headers)
        if answer.status != 200 or not isinstance(answer.json, list):
            raise SsoLoginError("provider", f"GitHub API {urlsplit(next_url).path}: HTTP {answer.status}")
        items += answer.json
        next_url = None
        for part in answer.headers.get("link", "").split(","):
            if 'rel="next"' in part and "<" in part:
                next_url = part[part.index("<") + 1 : part.index(">")]
    return items


async def _github_identity(
    request: Request, settings: ServerSettings, connector: str, code: str
) -> SsoIdentity:
    gh = _github(settings, connector)
    http = _http(request)
    answer = await http.post_form(
        gh.token_url,
        {
            "client_id": gh.client_id,
            "client_secret": gh.client_secret.reveal(),
            "code": code,
            "redirect_uri": gh.redirect_uri or f"{_own_url(request, settings)}/auth/callback",
        },
    )
    body = answer.json if isinstance(answer.json, Mapping) else {}
    token = body.get("access_token")
    if answer.status != 200 or not isinstance(token, str) or not token:
        error = str(body.get("error", "")) or f"HTTP {answer.status}"
        raise SsoLoginError("provider", f"GitHub refused the code exchange: {error}")
    user = await http.get(
        f"{gh.api_url}/user",
        headers={"Authorization": f"Bearer {token}", "Accept": "application/vnd.github+json"},
    )
    if user.status != 200 or not isinstance(user.json, Mapping) or not user.json.get("login"):
        raise SsoLoginError("provider", f"GitHub API /user: HTTP {user.status}")
    login_name = str(user.json["login"])
    orgs = [
        str(o.get("login", ""))
        for o in await _github_pages(http, f"{gh.api_url}/user/orgs?per_page=100", token)
        if isinstance(o, Mapping)
    ]
    teams = [
        (str((t.get("organization") or {}).get("login", "")), str(t.get("name", "")), str(t.get("slug", "")))
        for t in await _github_pages(http, f"{gh.api_url}/user/teams?per_page=100", token)
        if isinstance(t, Mapping)
    ]
    groups = github_groups(gh, orgs, teams)
    if groups is None:
        raise SsoLoginError("forbidden", f"GitHub user {login_name} is not in the required orgs or teams")
    user_id = login_name if gh.use_login_as_id else str(user.json.get("id") or login_name)
    return SsoIdentity(
        connector=gh.id,
        user_id=user_id,
        username=login_name,
        email=str(user.json.get("email") or ""),
        name=str(user.json.get("name") or ""),
        groups=groups,
    )


@router.get("/callback", summary="Finish an SSO login (the identity provider redirects here)")
async def callback(
    request: Request, code: str = "", state: str = "", error: str = "", error_description: str = ""
) -> RedirectResponse:
    ctx = ctx_of(request)
    settings = await _settings(request)
    assert settings.key is not None
    try:
        flow = open_flow(request.cookies.get(FLOW_COOKIE, ""), state, settings.key, ctx.now())
    except IdTokenError as exc:
        _deny(request, "", str(exc))
        raise bad_request(str(exc)) from None
    if error:
        _deny(request, flow.connector, f"the provider answered {error}")
        raise unauthenticated(f"login failed at the identity provider: {error}")
    if not code:
        raise bad_request("the callback has no code")
    try:
        if flow.connector:
            who = await _github_identity(request, settings, flow.connector, code)
        else:
            who = await _oidc_identity(request, settings, code, flow.verifier, flow.nonce)
    except IdTokenError as exc:
        _deny(request, flow.connector, f"ID token refused: {exc.reason}")
        raise unauthenticated(f"login failed: {exc}") from None
    except SsoLoginError as exc:
        _deny(request, flow.connector, str(exc))
        if exc.reason == "forbidden":
            raise permission_denied() from None
        if exc.reason == "unavailable":
            raise _unavailable(f"login failed: {exc}") from None
        raise unauthenticated(f"login failed: {exc}") from None
    if settings.accounts.get(who.user_id) is not None:
        _deny(request, who.connector, "the SSO user id names a local account")
        raise unauthenticated("login failed: the SSO user id names a local account")
    issued = issue_sso_session_token(
        settings.key,
        who.user_id,
        ctx.now(),
        connector=who.connector,
        groups=who.groups,
        email=who.email,
        name=who.name,
    )
    response = RedirectResponse(flow.return_url or "/", status_code=303)
    set_session_cookie(request, response, issued.token)
    response.delete_cookie(
        FLOW_COOKIE, path="/auth", httponly=True, secure=ctx.deps.secure_cookies, samesite="lax"
    )
    audit_event(
        request,
        None,
        actor=who.user_id,
        action="session.login",
        outcome="success",
        kind="Account",
        name=who.user_id,
        summary={"connector": who.connector, "groups": list(who.groups)},
    )
    return response


def _deny(request: Request, connector: str, message: str) -> None:
    audit_event(
        request,
        None,
        action="session.login",
        outcome="denied",
        kind="Account",
        name=connector or "oidc",
        message=message,
    )


# -- bearer ID tokens from the provider -------------------------------------------------------------


async def _jwks(http: SsoHttp, cfg: OidcConfig, *, fresh: bool) -> Mapping[str, Any]:
    cached = _provider_keys.get(cfg.issuer)
    if cached is not None and not fresh and time.monotonic() - cached[0] < JWKS_TTL:
        return cached[1]
    doc = await _discovery(http, cfg)
    keys = await http.get(str(doc["jwks_uri"]))
    if keys.status != 200 or not isinstance(keys.json, Mapping):
        raise _unavailable(f"the provider's JWKS could not be read (HTTP {keys.status})")
    _provider_keys[cfg.issuer] = (time.monotonic(), keys.json)
    return keys.json


async def provider_token_principal(
    request: Request, settings: ServerSettings, token: str
) -> Principal | None:
    """A bearer ID token issued by the ``oidc.config`` provider, as Argo CD accepts for CLI ``--sso``
    sessions and CI: signature against the provider's JWKS (kept for 5 minutes, fetched again once when
    no key matches), ``iss``, ``aud`` (the client id, ``cliClientID`` or ``allowedAudiences``), ``exp``.
    None when the token is not such a token or does not verify (the caller answers 401)."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        return None
    backends = ctx_of(request).deps.sso
    if header.get("alg") not in ASYMMETRIC or backends is None or backends.http is None:
        return None
    try:
        cfg = parse_oidc_config(settings.cm.get("oidc.config", ""), dict(settings.secret))
    except SsoConfigError:
        return None
    if cfg is None:
        return None
    now = ctx_of(request).now()
    claims: dict[str, Any] | None = None
    try:
        for fresh in (False, True):
            keys = await _jwks(backends.http, cfg, fresh=fresh)
            try:
                claims = verify_id_token(
                    token, keys, issuer=cfg.issuer, audiences=cfg.audiences, nonce="", now=now
                )
                break
            except IdTokenError as exc:
                if exc.reason != "signature" or fresh:
                    log.info("bearer ID token refused: %s", exc.reason)
                    return None
    except (ApiError, SsoLoginError) as exc:
        log.warning("bearer ID token: the provider is unavailable: %s", exc)
        return None
    if claims is None:
        return None
    subject = str(claims["sub"])
    if settings.accounts.get(subject) is not None:
        return None
    return Principal(
        subject,
        "sso",
        str(claims.get("jti") or ""),
        int(claims["iat"]),
        int(claims["exp"]),
        oidc_groups(claims),
        str(claims.get("email") or ""),
    )
