"""PagerDuty Events API v2: ``service.pagerdutyv2``.

Settings: ``serviceKeys`` (recipient -> integration routing key, usually ``$key`` references to
argocd-notifications-secret) and ``apiURL`` (default ``https://events.pagerduty.com``; an Argosy
extension, so tests can point it at a loopback receiver). The recipient names the routing key.

Template fields, as Argo CD's notifications-engine: ``pagerdutyv2.{summary, severity, source,
component, group, class, url, dedupKey}``. Each message is one ``trigger`` event, ``POST
{apiURL}/v2/enqueue``; PagerDuty answers 202 when it accepted it. Routing keys never appear in
errors.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from argosy.adapters.notifiers._common import block, classify_http, scrubbed, transport_error
from argosy.ports.notify import DeliveryTarget, PermanentDeliveryError, RetryableDeliveryError

__all__ = ["CLIENT", "DEFAULT_API_URL", "SEVERITIES", "PagerDutyNotifier", "build_event"]

DEFAULT_API_URL = "https://events.pagerduty.com"
SEVERITIES = ("critical", "error", "warning", "info")
CLIENT = "Argosy"
SUMMARY_LIMIT = 1024  # PagerDuty's maximum summary length


def _text(fields: Mapping[str, Any], name: str) -> str:
    value = fields.get(name)
    return value.strip() if isinstance(value, str) else ""


def build_event(routing_key: str, rendered: Mapping[str, Any]) -> dict[str, Any]:
    """The Events API v2 ``trigger`` event of a rendered template."""
    fields = block(rendered, "pagerdutyv2")
    if not fields:
        raise PermanentDeliveryError("the template has no pagerdutyv2 block")
    summary, source = _text(fields, "summary"), _text(fields, "source")
    severity = _text(fields, "severity").lower()
    missing = [name for name, value in (("summary", summary), ("source", source)) if not value]
    if missing:
        raise PermanentDeliveryError(f"pagerdutyv2.{' and .'.join(missing)} must not be empty")
    if severity not in SEVERITIES:
        raise PermanentDeliveryError(
            f"pagerdutyv2.severity is {severity!r}; PagerDuty accepts {', '.join(SEVERITIES)}"
        )
    payload: dict[str, Any] = {"summary": summary[:SUMMARY_LIMIT], "severity": severity, "source": source}
    for name in ("component", "group", "class"):
        if value := _text(fields, name):
            payload[name] = value
    event: dict[str, Any] = {
        "routing_key": routing_key,
        "event_action": "trigger",
        "payload": payload,
        "client": CLIENT,
    }
    if dedup := _text(fields, "dedupKey"):
        event["dedup_key"] = dedup
    if url := _text(fields, "url"):
        event["client_url"] = url
    return event


class PagerDutyNotifier:
    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client

    async def send(self, destination: DeliveryTarget, rendered: Mapping[str, Any]) -> None:
        settings = destination.settings
        what = f"pagerdutyv2 {destination.service}:{destination.recipient}"
        keys = settings.get("serviceKeys")
        key = keys.get(destination.recipient) if isinstance(keys, Mapping) else None
        if not isinstance(key, str) or not key:
            raise PermanentDeliveryError(
                f"{what}: no routing key in serviceKeys for {destination.recipient!r}"
            )
        try:
            event = build_event(key, rendered)
        except PermanentDeliveryError as exc:
            raise PermanentDeliveryError(f"{what}: {exc}") from None
        api = str(settings.get("apiURL") or DEFAULT_API_URL).rstrip("/")
        try:
            response = await self._client.post(f"{api}/v2/enqueue", json=event)
        except httpx.HTTPError as exc:
            raise scrubbed(transport_error(exc, what), [key]) from None
        try:
            classify_http(response, what)
        except (RetryableDeliveryError, PermanentDeliveryError) as exc:
            raise scrubbed(exc, [key]) from None
