"""``/api/v1/account`` and ``/api/v1/session``: local accounts, passwords, API tokens, login/logout.

``POST /api/v1/session`` also logs in users of the ``type: ldap`` connectors of argocd-cm ``dex.config``
(spec §6.2, docs/auth.md): a name that is not a local account is tried against each LDAP connector in
order, and the session token carries the directory's groups."""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request, Response
from pydantic import BaseModel, ConfigDict

from argosy.api.context import (
    COOKIE_NAME,
    ApiContext,
    Caller,
    allowed,
    audit,
    authenticate,
    ctx_of,
    enforce,
    source_of,
)
from argosy.api.errors import (
    GRPC_RESOURCE_EXHAUSTED,
    ApiError,
    bad_request,
    from_kube,
    not_found,
    unauthenticated,
)
from argosy.api.settings import ARGOCD_SECRET, ServerSettings
from argosy.core.accounts import (
    CAPABILITY_API_KEY,
    CAPABILITY_LOGIN,
    Account,
    TokenRecord,
    format_rfc3339,
    parse_accounts,
    secret_data,
    secret_keys_for,
    tokens_json,
)
from argosy.core.passwords import PasswordError, hash_password, validate_new_password, verify_password
from argosy.core.sso import LdapConnector, SsoConfigError, parse_dex_ldap_connectors
from argosy.core.tokens import IssuedToken, issue_api_token, issue_session_token, issue_sso_session_token
from argosy.ports.kube import is_conflict
from argosy.ports.sso import SsoLoginError, SsoUser

__all__ = ["account", "session", "set_session_cookie"]

log = logging.getLogger(__name__)

account = APIRouter(prefix="/api/v1/account", tags=["AccountService"])
session = APIRouter(prefix="/api/v1/session", tags=["SessionService"])
CallerDep = Annotated[Caller, Depends(authenticate)]
INVALID_LOGIN = "Invalid username or password"


class PasswordUpdate(BaseModel):
    model_config = ConfigDict(extra="ignore")
    name: str = ""
    currentPassword: str
    newPassword: str


class TokenCreate(BaseModel):
    model_config = ConfigDict(extra="ignore")
    name: str | None = None
    expiresIn: int = 0
    id: str = ""


class LoginRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")
    username: str
    password: str


def _present(acc: Account) -> dict[str, Any]:
    return {
        "name": acc.name,
        "enabled": acc.enabled,
        "capabilities": sorted(acc.capabilities),
        "tokens": [
            {"id": t.id, "issuedAt": t.issued_at, **({"expiresAt": t.expires_at} if t.expires_at else {})}
            for t in acc.tokens
        ],
    }


async def _account_permission(request: Request, caller: Caller, action: str, name: str) -> ServerSettings:
    """Argo CD's ``ensureHasAccountPermission``: one's own account, or ``accounts <action> <name>``."""
    ctx = ctx_of(request)
    settings = await ctx.settings.load()
    if caller.kind == "session" and caller.subject == name:
        return settings
    return await enforce(request, caller, "accounts", action, name, audit_action=f"account.{action}")


async def update_secret(ctx: ApiContext, mutate: Callable[[dict[str, str]], dict[str, str]]) -> None:
    """Read argocd-secret, apply ``mutate`` (decoded data -> changed keys), write back with the read
    resourceVersion; retried on a conflict."""
    kube, ns = ctx.deps.kube, ctx.deps.namespace
    for attempt in range(5):
        try:
            current = await kube.get("v1", "Secret", ARGOCD_SECRET, ns)
        except Exception as exc:
            raise from_kube(exc, "argocd-secret") from exc
        changes = mutate(secret_data(current))
        obj = dict(current)
        data = dict(obj.get("data") or {})
        obj.pop("stringData", None)
        for key, value in changes.items():
            data[key] = base64.b64encode(value.encode("utf-8")).decode("ascii")
        obj["data"] = data
        try:
            await kube.replace(obj)
        except Exception as exc:
            if is_conflict(exc) and attempt < 4:
                continue
            raise from_kube(exc, "argocd-secret") from exc
        ctx.settings.invalidate()
        return


@account.get("", summary="List accounts")
async def list_accounts(request: Request, caller: CallerDep) -> dict[str, Any]:
    settings = await ctx_of(request).settings.load()
    items = [
        _present(acc)
        for name, acc in sorted(settings.accounts.by_name.items())
        if (caller.kind == "session" and caller.subject == name)
        or allowed(settings, caller, "accounts", "get", name)
    ]
    return {"items": items}


@account.get("/can-i/{resource}/{action}/{subresource:path}", summary="Can the caller do this?")
async def can_i(
    request: Request, resource: str, action: str, subresource: str, caller: CallerDep
) -> dict[str, str]:
    settings = await ctx_of(request).settings.load()
    return {"value": "yes" if allowed(settings, caller, resource, action, subresource) else "no"}


@account.put("/password", summary="Change a password")
async def update_password(
    request: Request, caller: CallerDep, body: Annotated[PasswordUpdate, Body()]
) -> dict[str, Any]:
    ctx = ctx_of(request)
    name = body.name or caller.subject
    settings = await _account_permission(request, caller, "update", name)
    target = settings.accounts.get(name)
    if target is None:
        raise not_found(f"account {name} does not exist")
    # the caller proves who they are with their own current password (Argo CD's rule)
    me = settings.accounts.get(caller.subject)
    now = ctx.now()
    source = source_of(request)
    with ctx.lock:
        decision = ctx.limiter.check(caller.subject, source, now)
    if not decision.allowed:
        raise _too_many(decision.retry_after)
    if me is None or not verify_password(
        body.currentPassword, me.password_hash.reveal() if me.password_hash else None
    ):
        with ctx.lock:
            ctx.limiter.record_failure(caller.subject, source, now)
        audit(
            request,
            caller,
            action="account.update-password",
            outcome="denied",
            kind="Account",
            name=name,
            message="current password is wrong",
        )
        raise bad_request("current password does not match")
    try:
        validate_new_password(body.newPassword, settings.password_pattern)
        hashed = hash_password(body.newPassword)
    except PasswordError as exc:
        raise bad_request(str(exc)) from exc
    pw_key, mtime_key, _ = secret_keys_for(name)
    await update_secret(ctx, lambda _data: {pw_key: hashed, mtime_key: format_rfc3339(now)})
    audit(request, caller, action="account.update-password", outcome="success", kind="Account", name=name)
    return {}


@account.get("/{name}", summary="Get an account")
async def get_account(request: Request, name: str, caller: CallerDep) -> dict[str, Any]:
    settings = await _account_permission(request, caller, "get", name)
    acc = settings.accounts.get(name)
    if acc is None:
        raise not_found(f"account {name} does not exist")
    return _present(acc)


@account.post("/{name}/token", summary="Generate an API token")
async def create_token(
    request: Request, name: str, caller: CallerDep, body: Annotated[TokenCreate | None, Body()] = None
) -> dict[str, str]:
    ctx = ctx_of(request)
    req = body or TokenCreate()
    settings = await _account_permission(request, caller, "update", name)
    acc = settings.accounts.get(name)
    if acc is None:
        raise not_found(f"account {name} does not exist")
    if not acc.has(CAPABILITY_API_KEY):
        raise bad_request(f"account {name} does not have '{CAPABILITY_API_KEY}' capability")
    if settings.key is None:
        raise bad_request("the server has no signing key")
    if req.id and acc.token(req.id) is not None:
        raise bad_request(f"account already has token with id '{req.id}'")
    if req.expiresIn < 0:
        raise bad_request("expiresIn must not be negative")
    issued = issue_api_token(
        settings.key,
        name,
        ctx.now(),
        expires_in=timedelta(seconds=req.expiresIn) if req.expiresIn else None,
        token_id=req.id or None,
    )
    _, _, tokens_key = secret_keys_for(name)

    def add(data: dict[str, str]) -> dict[str, str]:
        parsed = parse_accounts(dict(settings.cm), data).get(name)
        existing = list(parsed.tokens) if parsed else []
        return {tokens_key: tokens_json([*existing, issued.record])}

    await update_secret(ctx, add)
    audit(
        request,
        caller,
        action="account.generate-token",
        outcome="success",
        kind="Account",
        name=name,
        summary={"id": issued.record.id, "expiresAt": issued.record.expires_at},
    )
    return {"token": issued.token}


@account.delete("/{name}/token/{token_id}", summary="Revoke an API token")
async def delete_token(request: Request, name: str, token_id: str, caller: CallerDep) -> dict[str, Any]:
    ctx = ctx_of(request)
    settings = await _account_permission(request, caller, "update", name)
    acc = settings.accounts.get(name)
    if acc is None:
        raise not_found(f"account {name} does not exist")
    if acc.token(token_id) is None:
        raise not_found(f"account {name} does not have token with id '{token_id}'")
    _, _, tokens_key = secret_keys_for(name)

    def remove(data: dict[str, str]) -> dict[str, str]:
        parsed = parse_accounts(dict(settings.cm), data).get(name)
        kept: list[TokenRecord] = [t for t in (parsed.tokens if parsed else ()) if t.id != token_id]
        return {tokens_key: tokens_json(kept)}

    await update_secret(ctx, remove)
    audit(
        request,
        caller,
        action="account.delete-token",
        outcome="success",
        kind="Account",
        name=name,
        summary={"id": token_id},
    )
    return {}


# -- session ------------------------------------------------------------------------------------


def _too_many(retry_after: timedelta) -> ApiError:
    seconds = max(1, int(retry_after.total_seconds()))
    return ApiError(
        429,
        "too many login attempts; try again later",
        GRPC_RESOURCE_EXHAUSTED,
        headers={"Retry-After": str(seconds)},
    )


@session.post("", summary="Log in with a local account or an LDAP connector's user")
async def login(
    request: Request, response: Response, body: Annotated[LoginRequest, Body()]
) -> dict[str, str]:
    ctx = ctx_of(request)
    settings = await ctx.settings.load()
    now = ctx.now()
    source = source_of(request)
    user = body.username
    with ctx.lock:
        decision = ctx.limiter.check(user, source, now)
    if not decision.allowed:
        audit(
            request,
            None,
            actor=user,
            action="session.login",
            outcome="denied",
            kind="Account",
            name=user,
            message="rate limited",
        )
        raise _too_many(decision.retry_after)
    acc = settings.accounts.get(user)
    ldap = _ldap_connectors(settings) if acc is None and settings.key is not None else []
    issued: IssuedToken | None = None
    groups: tuple[str, ...] = ()
    failure = "invalid credentials"
    if acc is not None:
        if (
            acc.enabled
            and acc.has(CAPABILITY_LOGIN)
            and verify_password(body.password, acc.password_hash.reveal() if acc.password_hash else None)
            and settings.key is not None
        ):
            issued = issue_session_token(settings.key, user, now)
    elif ldap and settings.key is not None:
        found, failure = await _ldap_login(request, ldap, user, body.password)
        if found is not None:
            conn, who = found
            if settings.accounts.get(who.user_id) is not None:
                failure = "the directory user id names a local account"
            else:
                groups = who.groups
                issued = issue_sso_session_token(
                    settings.key,
                    who.user_id,
                    now,
                    connector=conn.id,
                    groups=who.groups,
                    email=who.email,
                    name=who.name,
                )
    if issued is None:
        with ctx.lock:
            decision = ctx.limiter.record_failure(user, source, now)
        audit(
            request,
            None,
            actor=user,
            action="session.login",
            outcome="denied",
            kind="Account",
            name=user,
            message=failure,
        )
        if not decision.allowed:
            raise _too_many(decision.retry_after)
        raise unauthenticated(INVALID_LOGIN)
    with ctx.lock:
        ctx.limiter.record_success(user, source, now)
    set_session_cookie(request, response, issued.token)
    subject = str(issued.claims["sub"])
    audit(
        request,
        None,
        actor=subject,
        action="session.login",
        outcome="success",
        kind="Account",
        name=subject,
        summary={"connector": issued.claims["conn"], "groups": list(groups)}
        if "conn" in issued.claims
        else None,
    )
    return {"token": issued.token}


def set_session_cookie(request: Request, response: Response, token: str) -> None:
    """The browser session: secure (unless the server runs without TLS), HttpOnly, SameSite=Lax."""
    response.set_cookie(
        COOKIE_NAME,
        token,
        httponly=True,
        secure=ctx_of(request).deps.secure_cookies,
        samesite="lax",
        max_age=int(timedelta(hours=24).total_seconds()),
        path="/",
    )


def _ldap_connectors(settings: ServerSettings) -> list[LdapConnector]:
    text = settings.cm.get("dex.config", "")
    if not text.strip():
        return []
    try:
        return parse_dex_ldap_connectors(text, dict(settings.secret))
    except SsoConfigError as exc:
        log.warning("dex.config: %s; LDAP login is off", exc)
        return []


async def _ldap_login(
    request: Request, connectors: list[LdapConnector], user: str, password: str
) -> tuple[tuple[LdapConnector, SsoUser] | None, str]:
    """The first connector that knows ``user`` decides (Dex tries one connector; we try them in
    order, skipping those where the user does not exist or the directory is down)."""
    backends = ctx_of(request).deps.sso
    if backends is None or backends.ldap_login is None:
        return None, "LDAP login is not wired into this server"
    failure = "invalid credentials"
    for conn in connectors:
        if conn.missing_refs:
            log.warning(
                "LDAP connector %s: unresolved secret references %s", conn.id, list(conn.missing_refs)
            )
        try:
            return (conn, await backends.ldap_login(conn, user, password)), ""
        except SsoLoginError as exc:
            if exc.reason == "invalid_credentials":
                return None, "invalid credentials"
            if exc.reason in ("unavailable", "misconfigured", "ambiguous_user"):
                log.warning("LDAP connector %s: %s", conn.id, exc)
                failure = f"LDAP connector {conn.id}: {exc.reason}"
    return None, failure


@session.delete("", summary="Log out (revokes the session token)")
async def logout(request: Request, response: Response, caller: CallerDep) -> dict[str, Any]:
    ctx = ctx_of(request)
    if caller.kind in ("session", "sso"):
        with ctx.lock:
            ctx.revoked.add(caller.token_id)
    response.delete_cookie(
        COOKIE_NAME, path="/", httponly=True, secure=ctx.deps.secure_cookies, samesite="lax"
    )
    audit(request, caller, action="session.logout", outcome="success", kind="Account", name=caller.subject)
    return {}


@session.get("/userinfo", summary="Who am I")
async def userinfo(request: Request) -> dict[str, Any]:
    try:
        caller = await authenticate(request)
    except ApiError:
        return {"loggedIn": False}
    return {"loggedIn": True, "username": caller.subject, "iss": "argosy", "groups": list(caller.groups)}
