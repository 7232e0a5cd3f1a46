"""The FastAPI application: routers, error shapes, request ids, security headers, start-up."""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.responses import JSONResponse

from argosy.api import accounts, apps, auth, clusters, delivery, misc, projects, repos
from argosy.api.appcache import AppCache
from argosy.api.context import ApiContext, ApiDeps
from argosy.api.errors import GRPC_INVALID_ARGUMENT, ApiError
from argosy.api.settings import ensure_default_project, ensure_initial_admin

__all__ = ["create_app"]

log = logging.getLogger(__name__)
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "sameorigin",
    "Content-Security-Policy": "frame-ancestors 'self';",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Strict-Transport-Security": "max-age=31536000",
}


def create_app(deps: ApiDeps) -> FastAPI:
    """Build the API server over ``deps``; the bootstrap mounts or serves it."""
    ctx = ApiContext.build(deps)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if deps.initial_admin:
            try:
                if await ensure_initial_admin(deps.kube, deps.namespace, deps.clock):
                    log.info("generated the initial admin password (argocd-initial-admin-secret)")
                ctx.settings.invalidate()
            except Exception:
                log.exception("could not prepare argocd-secret; logins will fail until it is fixed")
            try:
                await ensure_default_project(deps.kube, deps.namespace)
            except Exception:
                log.exception("could not create the default AppProject")
        if deps.watch_cache:
            ctx.cache = AppCache(deps.kube, deps.namespace, gzip_level=deps.gzip_level)
            ctx.cache.start()
        ctx.ready = True
        try:
            yield
        finally:
            if ctx.cache is not None:
                await ctx.cache.stop()

    app = FastAPI(
        title="Argosy API",
        version="v1",
        description="Argo CD-compatible REST API (grpc-gateway paths and JSON shapes).",
        lifespan=lifespan,
    )
    app.state.argosy = ctx
    if deps.gzip_level > 0:
        app.add_middleware(GZipMiddleware, minimum_size=1024, compresslevel=deps.gzip_level)

    @app.middleware("http")
    async def request_context(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        given = request.headers.get("x-request-id", "")
        request.state.request_id = given if _REQUEST_ID.match(given) else str(uuid.uuid4())
        response = await call_next(request)
        response.headers["X-Request-Id"] = request.state.request_id
        for key, value in SECURITY_HEADERS.items():
            response.headers.setdefault(key, value)
        if request.url.path.startswith("/api/"):
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    @app.exception_handler(ApiError)
    async def api_error(_: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers or None)

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        message = f"invalid request: {where}: {first.get('msg', 'bad value')}" if where else "invalid request"
        body = {"error": message, "code": GRPC_INVALID_ARGUMENT, "message": message}
        return JSONResponse(body, status_code=400)

    for router in (
        apps.router,
        projects.router,
        repos.repositories,
        repos.repocreds,
        clusters.router,
        accounts.account,
        accounts.session,
        misc.settings,
        misc.stream,
        misc.webhook,
        misc.health,
        auth.router,
        delivery.router,
    ):
        app.include_router(router)
    return app
