"""Notification senders: Slack, email (SMTP), webhooks, Microsoft Teams and PagerDuty, one module each.

Layer 3 (``argosy.adapters``): may import ``argosy.model``, ``argosy.ports`` and I/O libraries.
Each sender's ``send(destination, rendered)`` returns once the service accepted the message and
raises ``RetryableDeliveryError`` or ``PermanentDeliveryError`` (``argosy.ports.notify``).
:class:`Notifiers` routes by service type and implements ``NotificationSender``.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from typing import Any

import httpx

from argosy.adapters.notifiers._common import redacted_request_logs
from argosy.adapters.notifiers.email import EmailNotifier
from argosy.adapters.notifiers.pagerduty import PagerDutyNotifier
from argosy.adapters.notifiers.slack import SlackNotifier
from argosy.adapters.notifiers.teams import TeamsNotifier
from argosy.adapters.notifiers.webhook import WebhookNotifier
from argosy.ports.notify import DeliveryTarget, NotificationSender, PermanentDeliveryError

__all__ = [
    "SERVICE_TYPES",
    "EmailNotifier",
    "Notifiers",
    "PagerDutyNotifier",
    "SlackNotifier",
    "TeamsNotifier",
    "WebhookNotifier",
]

SERVICE_TYPES = ("slack", "email", "webhook", "teams", "teams-workflows", "pagerdutyv2")
"""The ``service.<type>`` types Argosy delivers to (``argosy.core.notify.lint`` keeps the same list)."""


class Notifiers:
    """Implements ``NotificationSender`` for the :data:`SERVICE_TYPES`."""

    def __init__(
        self,
        *,
        timeout: float = 10.0,
        trust_env: bool = True,
        tls_context: ssl.SSLContext | None = None,
        verify: ssl.SSLContext | bool = True,
    ) -> None:
        self._http = httpx.AsyncClient(timeout=timeout, trust_env=trust_env, verify=verify)
        self._insecure = httpx.AsyncClient(timeout=timeout, trust_env=trust_env, verify=False)  # noqa: S501  (only for insecureSkipVerify: true)
        self._senders: dict[str, NotificationSender] = {
            "slack": SlackNotifier(self._http),
            "webhook": WebhookNotifier(self._http, self._insecure),
            "email": EmailNotifier(tls_context=tls_context, timeout=timeout),
            "teams": TeamsNotifier(self._http, self._insecure, workflows=False),
            "teams-workflows": TeamsNotifier(self._http, self._insecure, workflows=True),
            "pagerdutyv2": PagerDutyNotifier(self._http),
        }

    async def send(self, destination: DeliveryTarget, rendered: Mapping[str, Any]) -> None:
        sender = self._senders.get(destination.service_type)
        if sender is None:
            raise PermanentDeliveryError(f"service type {destination.service_type!r} is not supported")
        with redacted_request_logs():  # webhook URLs are credentials: never in httpx's request log
            await sender.send(destination, rendered)

    async def aclose(self) -> None:
        await self._http.aclose()
        await self._insecure.aclose()

    async def __aenter__(self) -> Notifiers:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
