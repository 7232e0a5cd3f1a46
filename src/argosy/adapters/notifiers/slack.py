"""Slack: ``chat.postMessage`` with a bot token, or an incoming-webhook URL.

Settings (``service.slack``): ``token`` (bot token) or ``webhookURL`` (incoming webhook, an Argosy
extension), ``apiURL`` (default ``https://slack.com/api/``), ``username``, ``icon`` (``:emoji:`` or
an image URL), ``disableUnfurl``. The recipient is the channel. Template fields: ``message`` and
``slack.attachments`` / ``slack.blocks`` (JSON text). ``signingSecret`` has no effect on sending.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from argosy.adapters.notifiers._common import (
    as_bool,
    block,
    classify_http,
    json_field,
    message_text,
    transport_error,
)
from argosy.ports.notify import DeliveryTarget, PermanentDeliveryError, RetryableDeliveryError

__all__ = ["DEFAULT_API_URL", "SlackNotifier"]

DEFAULT_API_URL = "https://slack.com/api/"
_RETRYABLE_API_ERRORS = frozenset(
    {"ratelimited", "rate_limited", "service_unavailable", "internal_error", "fatal_error", "request_timeout"}
)


def build_payload(destination: DeliveryTarget, rendered: Mapping[str, Any]) -> dict[str, Any]:
    settings = destination.settings
    slack = block(rendered, "slack")
    payload: dict[str, Any] = {"text": message_text(rendered)}
    if destination.recipient:
        payload["channel"] = destination.recipient
    attachments = json_field(slack.get("attachments"), "slack.attachments")
    if attachments is not None:
        payload["attachments"] = attachments
    blocks = json_field(slack.get("blocks"), "slack.blocks")
    if blocks is not None:
        payload["blocks"] = blocks
    if username := settings.get("username"):
        payload["username"] = str(username)
    if icon := settings.get("icon"):
        icon = str(icon)
        payload["icon_emoji" if icon.startswith(":") else "icon_url"] = icon
    if as_bool(settings.get("disableUnfurl", False)):
        payload["unfurl_links"] = False
        payload["unfurl_media"] = False
    return payload


class SlackNotifier:
    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client

    async def send(self, destination: DeliveryTarget, rendered: Mapping[str, Any]) -> None:
        settings = destination.settings
        payload = build_payload(destination, rendered)
        webhook = settings.get("webhookURL") or settings.get("webhookUrl")
        token = settings.get("token")
        what = f"slack {destination.service}:{destination.recipient}"
        if webhook:
            try:
                response = await self._client.post(str(webhook), json=payload)
            except httpx.HTTPError as exc:
                raise transport_error(exc, what) from exc
            classify_http(response, what)
            return
        if not token:
            raise PermanentDeliveryError(f"{what}: neither token nor webhookURL is set")
        api = str(settings.get("apiURL") or DEFAULT_API_URL)
        url = api.rstrip("/") + "/chat.postMessage"
        try:
            response = await self._client.post(
                url,
                json=payload,
                headers={
                    "Authorization": f"Bearer {token}",
                    "Content-Type": "application/json; charset=utf-8",
                },
            )
        except httpx.HTTPError as exc:
            raise transport_error(exc, what) from exc
        classify_http(response, what)
        try:
            body = response.json()
        except ValueError as exc:
            raise RetryableDeliveryError(f"{what}: the API answered something that is not JSON") from exc
        if not isinstance(body, dict) or body.get("ok") is not True:
            error = str(body.get("error", "unknown_error")) if isinstance(body, dict) else "unknown_error"
            if error in _RETRYABLE_API_ERRORS:
                raise RetryableDeliveryError(f"{what}: {error}")
            raise PermanentDeliveryError(f"{what}: {error}")
