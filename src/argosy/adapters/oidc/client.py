"""An ``httpx`` client for identity providers: JSON GETs and form POSTs, errors without secrets."""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from typing import Any

import httpx

from argosy.ports.sso import HttpAnswer, SsoLoginError

__all__ = ["OidcHttpClient"]

MAX_BODY = 1024 * 1024  # a discovery document, a JWKS or a token answer is a few KB


class OidcHttpClient:
    """``verify``: True (system trust), False, or a CA bundle path. One pooled client per instance."""

    def __init__(self, *, verify: bool | str = True, timeout: float = 10.0) -> None:
        ctx: ssl.SSLContext | bool = (
            ssl.create_default_context(cafile=verify) if isinstance(verify, str) else verify
        )
        self._client = httpx.AsyncClient(verify=ctx, timeout=timeout, follow_redirects=False)

    async def aclose(self) -> None:
        await self._client.aclose()

    async def _send(self, method: str, url: str, **kwargs: Any) -> HttpAnswer:
        if not url.startswith(("https://", "http://")):
            raise SsoLoginError("misconfigured", "the provider URL must be http(s)")
        try:
            resp = await self._client.request(method, url, **kwargs)
        except httpx.HTTPError as exc:
            # the URL may carry a code in its query: name only the host
            host = httpx.URL(url).host
            raise SsoLoginError("unavailable", f"{host} unreachable: {type(exc).__name__}") from None
        body: Any = None
        if len(resp.content) <= MAX_BODY and "json" in resp.headers.get("content-type", ""):
            try:
                body = resp.json()
            except ValueError:
                body = None
        return HttpAnswer(resp.status_code, body, dict(resp.headers))

    async def get(self, url: str, *, headers: Mapping[str, str] | None = None) -> HttpAnswer:
        return await self._send("GET", url, headers={"Accept": "application/json", **(headers or {})})

    async def post_form(
        self, url: str, form: Mapping[str, str], *, headers: Mapping[str, str] | None = None
    ) -> HttpAnswer:
        return await self._send(
            "POST", url, data=dict(form), headers={"Accept": "application/json", **(headers or {})}
        )
