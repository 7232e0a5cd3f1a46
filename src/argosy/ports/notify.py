"""Ports of notification delivery: the durable outbox (with the de-duplication state) and senders.

Layer 2: may import ``argosy.model`` and the standard library. The SQL store in
``argosy.adapters.db`` implements :class:`NotificationOutbox`; ``argosy.adapters.notifiers``
implements :class:`NotificationSender` (Slack, email, webhook). See docs/notifications-delivery.md.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

__all__ = [
    "DeliveryError",
    "DeliveryTarget",
    "NotificationOutbox",
    "NotificationSender",
    "OutboxItem",
    "OutboxMessage",
    "PermanentDeliveryError",
    "RetryableDeliveryError",
]


class DeliveryError(Exception):
    """A notification could not be delivered."""


class RetryableDeliveryError(DeliveryError):
    """The receiver is down, slow, rate-limiting or answered 5xx: try again later."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentDeliveryError(DeliveryError):
    """The receiver refused the message for good (bad token, unknown channel, 4xx): do not retry."""


@dataclass(frozen=True, slots=True)
class DeliveryTarget:
    """Where one message goes: a configured service (settings with secrets resolved) and a recipient."""

    service: str
    service_type: str
    recipient: str
    settings: Mapping[str, Any] = field(repr=False)


class NotificationSender(Protocol):
    async def send(self, destination: DeliveryTarget, rendered: Mapping[str, Any]) -> None:
        """Deliver ``rendered`` (a rendered template body); return only once the service accepted it.

        Raises :class:`RetryableDeliveryError` or :class:`PermanentDeliveryError`.
        """
        ...


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """A notification to enqueue; ``payload`` is the rendered template body without secret values."""

    dedupe_key: str
    trigger: str
    service: str
    service_type: str
    recipient: str
    payload: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    id: int
    app_namespace: str
    app_name: str
    dedupe_key: str
    trigger: str
    service: str
    service_type: str
    recipient: str
    payload: Mapping[str, Any]
    status: str
    """``pending``, ``sent`` or ``failed``."""
    attempts: int
    created_at: datetime
    next_attempt_at: datetime
    sent_at: datetime | None = None
    last_error: str | None = None


class NotificationOutbox(Protocol):
    async def load_state(self, app_namespace: str, app_name: str) -> dict[str, int]:
        """The de-duplication state of one application (key -> unix seconds)."""
        ...

    async def pending_keys(self, app_namespace: str, app_name: str) -> set[str]:
        """Dedupe keys of this application's messages that are queued and not yet sent or failed."""
        ...

    async def enqueue(
        self,
        app_namespace: str,
        app_name: str,
        state: Mapping[str, int],
        items: Sequence[OutboxItem],
        *,
        now: datetime,
    ) -> list[int]:
        """In one transaction: replace the application's state with ``state`` and queue ``items``."""
        ...

    async def due(self, now: datetime, *, limit: int = 100) -> list[OutboxMessage]:
        """Pending messages whose ``next_attempt_at`` has come, oldest first."""
        ...

    async def mark_sent(self, message_id: int, *, at: datetime) -> None: ...

    async def mark_retry(
        self, message_id: int, *, attempts: int, next_attempt_at: datetime, error: str
    ) -> None: ...

    async def mark_failed(self, message_id: int, *, attempts: int, error: str) -> None: ...

    async def messages(
        self, *, app_namespace: str | None = None, app_name: str | None = None, status: str | None = None
    ) -> list[OutboxMessage]: ...

    async def next_due_at(self) -> datetime | None:
        """When the earliest pending message is due (None if nothing is pending)."""
        ...
