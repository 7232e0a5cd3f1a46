"""Generic webhook: ``service.webhook.<name>`` with ``url``, ``headers`` (``[{name, value}]``),
``basicAuth`` (``{username, password}``) and ``insecureSkipVerify``; the template's
``webhook.<name>`` block gives ``method`` (default GET, as Argo CD), ``path`` (appended to the URL)
and ``body``. The recipient is the webhook's name.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from argosy.adapters.notifiers._common import as_bool, block, classify_http, transport_error
from argosy.ports.notify import DeliveryTarget, PermanentDeliveryError

__all__ = ["WebhookNotifier"]


class WebhookNotifier:
    def __init__(self, client: httpx.AsyncClient, insecure_client: httpx.AsyncClient | None = None) -> None:
        self._client = client
        self._insecure = insecure_client

    async def send(self, destination: DeliveryTarget, rendered: Mapping[str, Any]) -> None:
        settings = destination.settings
        what = f"webhook {destination.service}"
        url = settings.get("url")
        if not url:
            raise PermanentDeliveryError(f"{what}: no url")
        request = block(block(rendered, "webhook"), destination.service)
        if not request:
            raise PermanentDeliveryError(f"{what}: the template has no webhook.{destination.service} block")
        method = str(request.get("method") or "GET").upper()
        path = str(request.get("path") or "")
        target = str(url).rstrip("/") + "/" + path.lstrip("/") if path else str(url)
        headers: dict[str, str] = {}
        for header in settings.get("headers") or []:
            if isinstance(header, Mapping) and header.get("name"):
                headers[str(header["name"])] = str(header.get("value", ""))
        auth: httpx.BasicAuth | None = None
        basic = settings.get("basicAuth")
        if isinstance(basic, Mapping):
            auth = httpx.BasicAuth(str(basic.get("username", "")), str(basic.get("password", "")))
        body = request.get("body")
        content = body.encode("utf-8") if isinstance(body, str) else None
        client = self._client
        if as_bool(settings.get("insecureSkipVerify", False)) and self._insecure is not None:
            client = self._insecure
        try:
            response = await client.request(
                method,
                target,
                content=content,
                headers=headers,
                auth=auth if auth is not None else httpx.USE_CLIENT_DEFAULT,
            )
        except httpx.HTTPError as exc:
            raise transport_error(exc, what) from exc
        classify_http(response, what)
