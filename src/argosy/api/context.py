"""Per-app state (dependencies, settings, limiter, revoked sessions) and per-request helpers:
authentication, RBAC enforcement and auditing."""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from fastapi import Request

from argosy.api.errors import GRPC_PERMISSION_DENIED, ApiError, permission_denied, unauthenticated
from argosy.api.settings import KubeSettingsLoader, ServerSettings, SettingsLoader
from argosy.core.diff import mask_secret
from argosy.core.passwords import LoginLimiter, RateLimitPolicy
from argosy.core.tokens import Principal, TokenError, project_role_tokens, verify_token
from argosy.ports.apiserver import ApiKube, AuditEntry, AuditSink, Clock
from argosy.ports.history import HistoryReader
from argosy.ports.sso import SsoBackends

if TYPE_CHECKING:
    from argosy.api.appcache import AppCache

__all__ = ["ApiContext", "ApiDeps", "Caller", "audit", "authenticate", "ctx_of", "enforce"]

log = logging.getLogger(__name__)

COOKIE_NAME = "argocd.token"
CSRF_HEADER = "x-argosy-csrf"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class ApiDeps:
    """What the composition root gives the API server."""

    kube: ApiKube
    namespace: str = "argocd"
    clock: Clock = _utcnow
    audit: AuditSink | None = None
    settings: SettingsLoader | None = None  # default: KubeSettingsLoader(kube, namespace)
    rate_limit: RateLimitPolicy | None = None
    secure_cookies: bool = True
    initial_admin: bool = (
        True  # start-up: generate the admin password and create the default project if missing
    )
    manifests: Any = None  # optional ManifestSource (see argosy.api.apps)
    watch_cache: bool = True  # serve application lists from a list+watch cache (argosy.api.appcache)
    gzip_level: int = 3  # gzip answers over 1 KB for clients that accept it (0: off)
    history: HistoryReader | None = None  # the SQL history store: GET /api/v1/delivery/dora (None: 501)
    sso: SsoBackends | None = None  # LDAP login and the OIDC/GitHub HTTP client (argosy.api.auth)


@dataclass
class ApiContext:
    deps: ApiDeps
    settings: SettingsLoader
    limiter: LoginLimiter
    revoked: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)
    ready: bool = False
    cache: AppCache | None = None

    @classmethod
    def build(cls, deps: ApiDeps) -> ApiContext:
        loader = deps.settings or KubeSettingsLoader(deps.kube, deps.namespace)
        return cls(deps=deps, settings=loader, limiter=LoginLimiter(deps.rate_limit))

    def now(self) -> datetime:
        return self.deps.clock()


@dataclass(frozen=True)
class Caller:
    subject: str
    groups: tuple[str, ...]
    kind: str  # session | apiKey | project
    token_id: str
    via_cookie: bool
    source: str
    request_id: str
    principal: Principal | None = None

    def claims(self) -> dict[str, Any]:
        out: dict[str, Any] = {"sub": self.subject, "groups": list(self.groups)}
        if self.principal is not None and self.principal.email:  # SSO: RBAC scopes [groups, email]
            out["email"] = self.principal.email
        return out


def ctx_of(request: Request) -> ApiContext:
    ctx: ApiContext = request.app.state.argosy
    return ctx


def request_id(request: Request) -> str:
    rid = getattr(request.state, "request_id", None)
    if not rid:
        rid = str(uuid.uuid4())
        request.state.request_id = rid
    return str(rid)


def source_of(request: Request) -> str:
    return request.client.host if request.client else ""


def bearer_token(request: Request) -> tuple[str, bool]:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip(), False
    cookie = request.cookies.get(COOKIE_NAME, "")
    return cookie, bool(cookie)


async def authenticate(request: Request) -> Caller:
    """FastAPI dependency: the verified caller, or 401. Cookie-authenticated writes need the CSRF header."""
    cached = getattr(request.state, "caller", None)
    if isinstance(cached, Caller):
        return cached
    ctx = ctx_of(request)
    token, via_cookie = bearer_token(request)
    if not token:
        raise unauthenticated("no session information")
    settings = await ctx.settings.load()
    if settings.key is None:
        raise unauthenticated("invalid session: the server has no signing key")
    with ctx.lock:
        revoked = frozenset(ctx.revoked)
    try:
        principal = verify_token(
            token,
            settings.key,
            ctx.now(),
            accounts=settings.accounts,
            project_tokens=project_role_tokens(list(settings.projects)),
            revoked_sessions=revoked,
        )
    except TokenError as exc:
        from argosy.api.auth import provider_token_principal  # noqa: PLC0415 - auth imports this module

        found = await provider_token_principal(request, settings, token)
        if found is None:
            raise unauthenticated(f"invalid session: {exc}") from exc
        principal = found
    # CSRF: a cross-site form can send the cookie but cannot set a custom header (no CORS here).
    if via_cookie and request.method not in SAFE_METHODS and not request.headers.get(CSRF_HEADER):
        raise permission_denied_csrf()
    caller = Caller(
        subject=principal.subject,
        groups=principal.groups,
        kind=principal.kind,
        token_id=principal.token_id,
        via_cookie=via_cookie,
        source=source_of(request),
        request_id=request_id(request),
        principal=principal,
    )
    request.state.caller = caller
    return caller


def permission_denied_csrf() -> ApiError:
    return ApiError(
        403, f"missing {CSRF_HEADER} header for a cookie-authenticated request", GRPC_PERMISSION_DENIED
    )


def allowed(settings: ServerSettings, caller: Caller, resource: str, action: str, obj: str) -> bool:
    return settings.enforcer.enforce_claims(caller.claims(), resource, action, obj)


async def enforce(
    request: Request, caller: Caller, resource: str, action: str, obj: str, *, audit_action: str = ""
) -> ServerSettings:
    """Raise 403 "permission denied" unless allowed; denied writes are audited."""
    ctx = ctx_of(request)
    settings = await ctx.settings.load()
    if not allowed(settings, caller, resource, action, obj):
        if audit_action or request.method not in SAFE_METHODS:
            project, _, name = obj.partition("/") if resource == "applications" else ("", "", obj)
            audit(
                request,
                caller,
                action=audit_action or f"{resource}.{action}",
                outcome="denied",
                kind=_KINDS.get(resource, resource),
                name=name,
                project=project if resource == "applications" else "",
                message=f"{resource} {action} {obj}",
            )
        raise permission_denied()
    return settings


_KINDS = {
    "applications": "Application",
    "projects": "AppProject",
    "repositories": "Repository",
    "clusters": "Cluster",
    "accounts": "Account",
}


def masked(value: Any) -> Any:
    """Mask Secret data anywhere in ``value`` (objects or lists of objects)."""
    if isinstance(value, Mapping):
        if value.get("kind") == "Secret":
            return mask_secret(value)
        return {k: masked(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [masked(v) for v in value]
    return value


def audit(
    request: Request,
    caller: Caller | None,
    *,
    action: str,
    outcome: str,
    kind: str = "",
    name: str = "",
    project: str = "",
    summary: Any = None,
    message: str = "",
    actor: str = "",
) -> None:
    ctx = ctx_of(request)
    sink = ctx.deps.audit
    if sink is None:
        return
    app = f"{project}/{name}" if kind == "Application" and project else ""
    entry = AuditEntry(
        actor=actor or (caller.subject if caller else ""),
        groups=caller.groups if caller else (),
        source=source_of(request),
        action=action,
        outcome=outcome,
        kind=kind,
        name=name,
        namespace=ctx.deps.namespace,
        project=project,
        application=app,
        request_id=request_id(request),
        summary=masked(summary),
        message=message,
        time=ctx.now(),
    )
    try:
        sink(entry)
    except Exception:  # an audit failure must not fail the call; the writer reports its own errors
        log.exception("audit sink failed")
