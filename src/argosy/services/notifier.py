"""The notifier service: Application changes in, notifications out, through a durable outbox.

Layer 4 (``argosy.services``): imports ``argosy.core.notify`` (pure decisions), ``argosy.ports``
(``NotificationOutbox``, ``NotificationSender``, ``Metrics``) and ``argosy.model``; never adapters.

For each Application it is fed (by the controller's callback or an async iterator of a watch):

1. load the app's de-duplication state from the outbox store (it survives restarts);
2. ``evaluate_app`` the subscribed triggers; keys of messages still queued are skipped too;
3. render each notification's templates, replace secret values by placeholders (the stored payload
   holds no secret) and, in one transaction, queue the messages and store the new state.

``deliver_due`` sends the queued messages whose time has come, one recipient at a time in order;
a message is marked sent only after the service accepted it. A retryable failure reschedules it
with exponential backoff (per message, so per recipient), a permanent one marks it failed.
See docs/notifications-delivery.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from argosy.core.notify import (
    NotificationsConfig,
    RepoData,
    evaluate_app,
    mark_sent,
    parse_config,
    render_templates,
    resolve_settings,
    with_argosy_defaults,
)
from argosy.ports.metrics import Metrics, NullMetrics
from argosy.ports.notify import (
    DeliveryTarget,
    NotificationOutbox,
    NotificationSender,
    OutboxItem,
    OutboxMessage,
    PermanentDeliveryError,
    RetryableDeliveryError,
)

__all__ = ["Backoff", "NotifierService", "redact_secrets", "restore_secrets"]

log = logging.getLogger(__name__)

_MARK = "${argosy-secret:%s}"
MIN_SECRET_LENGTH = 4


@dataclass(frozen=True, slots=True)
class Backoff:
    """Delay before attempt ``n + 1`` after ``n`` failed attempts: ``base * factor**(n-1)``, capped."""

    base: float = 2.0
    factor: float = 2.0
    maximum: float = 300.0
    max_attempts: int = 30

    def delay(self, attempts: int) -> float:
        return min(self.maximum, self.base * self.factor ** max(0, attempts - 1))


def _walk(value: Any, fn: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return fn(value)
    if isinstance(value, Mapping):
        return {k: _walk(v, fn) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_walk(v, fn) for v in value]
    return value


def redact_secrets(body: Mapping[str, Any], secrets: Mapping[str, str]) -> dict[str, Any]:
    """Replace every secret value (4 characters or more, longest first) by ``${argosy-secret:KEY}``."""
    pairs = sorted(
        ((k, v) for k, v in secrets.items() if len(v) >= MIN_SECRET_LENGTH),
        key=lambda kv: -len(kv[1]),
    )

    def fn(text: str) -> str:
        for key, value in pairs:
            text = text.replace(value, _MARK % key)
        return text

    result = _walk(body, fn)
    assert isinstance(result, dict)
    return result


def restore_secrets(body: Mapping[str, Any], secrets: Mapping[str, str]) -> dict[str, Any]:
    def fn(text: str) -> str:
        if "${argosy-secret:" not in text:
            return text
        for key, value in secrets.items():
            text = text.replace(_MARK % key, value)
        return text

    result = _walk(body, fn)
    assert isinstance(result, dict)
    return result


def _utcnow() -> datetime:
    return datetime.now(UTC)


class NotifierService:
    """Evaluate, enqueue, deliver. One instance per process (a single deliverer of the outbox)."""

    def __init__(
        self,
        outbox: NotificationOutbox,
        sender: NotificationSender,
        *,
        config_data: Mapping[str, str],
        secrets: Mapping[str, str] | None = None,
        metrics: Metrics | None = None,
        backoff: Backoff | None = None,
        clock: Callable[[], datetime] = _utcnow,
        projects: Callable[[str], Mapping[str, Any] | None] | None = None,
        repo_data: Callable[[Mapping[str, Any]], RepoData | None] | None = None,
        poll_interval: float = 5.0,
    ) -> None:
        self.outbox = outbox
        self.sender = sender
        self.metrics: Metrics = metrics if metrics is not None else NullMetrics()
        self.backoff = backoff if backoff is not None else Backoff()
        self.clock = clock
        self.projects = projects
        self.repo_data = repo_data
        self.poll_interval = poll_interval
        self._wake = asyncio.Event()
        self.config: NotificationsConfig = parse_config({})
        self.secrets: dict[str, str] = {}
        self.update_config(config_data, secrets or {})

    def update_config(self, config_data: Mapping[str, str], secrets: Mapping[str, str]) -> None:
        """New ``argocd-notifications-cm`` data and ``argocd-notifications-secret`` values."""
        self.config = parse_config(with_argosy_defaults(dict(config_data)))
        for error in self.config.errors:
            log.warning("notifications config: %s", error)
        self.secrets = dict(secrets)

    # ------------------------------------------------------------------------ evaluation

    async def handle_app(self, app: Mapping[str, Any]) -> list[int]:
        """Evaluate one Application and queue what it triggers; returns the new outbox ids."""
        metadata = app.get("metadata") or {}
        namespace = str(metadata.get("namespace") or "")
        name = str(metadata.get("name") or "")
        now = self.clock()
        project_name = str((app.get("spec") or {}).get("project") or "default")
        project = self.projects(project_name) if self.projects is not None else None
        repo = self.repo_data(app) if self.repo_data is not None else None
        state = await self.outbox.load_state(namespace, name)
        evaluation = evaluate_app(self.config, app, now=now, state=state, project=project, repo=repo)
        for error in evaluation.errors:
            log.info("notifications %s/%s: %s", namespace, name, error)
        for result in evaluation.results:
            self.metrics.record_trigger_eval(result.trigger, result.triggered)
        pending = await self.outbox.pending_keys(namespace, name) if evaluation.notifications else set()
        new_state = dict(evaluation.state)
        items: list[OutboxItem] = []
        for n in evaluation.notifications:
            if n.dedupe_key in pending or n.dedupe_key in new_state:
                continue
            rendered = render_templates(
                self.config, n.templates, app, now=now, service_type=n.service_type, recipient=n.recipient,
                project=project, secrets=self.secrets, repo=repo,
            )  # fmt: skip
            for error in rendered.errors:
                log.warning("notifications %s/%s %s: %s", namespace, name, n.trigger, error)
            items.append(
                OutboxItem(
                    dedupe_key=n.dedupe_key,
                    trigger=n.trigger,
                    service=n.service,
                    service_type=n.service_type,
                    recipient=n.recipient,
                    payload=redact_secrets(rendered.body, self.secrets),
                )
            )
            new_state = mark_sent(new_state, n.dedupe_key, now=now)
        if not items and new_state == state:
            return []
        ids = await self.outbox.enqueue(namespace, name, new_state, items, now=now)
        if ids:
            self._wake.set()
        return ids

    # -------------------------------------------------------------------------- delivery

    def _target(self, message: OutboxMessage) -> DeliveryTarget:
        service = self.config.services.get(message.service)
        if service is None:
            raise PermanentDeliveryError(f"service {message.service!r} is no longer configured")
        settings = resolve_settings(service, self.secrets)
        if settings.unresolved:
            # A missing secret key may be added soon: retry rather than send "$key" literally.
            raise RetryableDeliveryError(
                f"service {message.service!r}: secret keys missing: {settings.unresolved}"
            )
        return DeliveryTarget(message.service, service.type, message.recipient, settings.values)

    async def _deliver_one(self, message: OutboxMessage) -> datetime | None:
        """Send one message; ``None`` when it is done (sent or failed for good), else its next attempt."""
        attempts = message.attempts + 1
        try:
            target = self._target(message)
            await self.sender.send(target, restore_secrets(message.payload, self.secrets))
        except PermanentDeliveryError as exc:
            log.warning("notification %d to %s:%s failed for good: %s", message.id, message.service,
                        message.recipient, exc)  # fmt: skip
            await self.outbox.mark_failed(message.id, attempts=attempts, error=str(exc))
            self.metrics.record_notification_delivery(message.trigger, message.service, False)
            return None
        except Exception as exc:  # retryable, or an unexpected error in a sender: try again later
            error = str(exc) or type(exc).__name__
            retry_after = exc.retry_after if isinstance(exc, RetryableDeliveryError) else None
            self.metrics.record_notification_delivery(message.trigger, message.service, False)
            if attempts >= self.backoff.max_attempts:
                await self.outbox.mark_failed(message.id, attempts=attempts, error=f"gave up: {error}")
                return None
            delay = max(self.backoff.delay(attempts), retry_after or 0.0)
            next_at = self.clock() + timedelta(seconds=delay)
            await self.outbox.mark_retry(message.id, attempts=attempts, next_attempt_at=next_at, error=error)
            return next_at
        await self.outbox.mark_sent(message.id, at=self.clock())
        self.metrics.record_notification_delivery(message.trigger, message.service, True)
        return None

    async def _deliver_recipient(self, messages: Sequence[OutboxMessage]) -> None:
        """In order; when one is rescheduled, the recipient's later messages wait with it (same time,
        attempts unchanged), so they keep their order."""
        for i, message in enumerate(messages):
            next_at = await self._deliver_one(message)
            if next_at is not None:
                for later in messages[i + 1 :]:
                    await self.outbox.mark_retry(
                        later.id,
                        attempts=later.attempts,
                        next_attempt_at=next_at,
                        error=later.last_error or "waiting for an earlier message to the same recipient",
                    )
                return

    async def deliver_due(self, *, limit: int = 100) -> int:
        """Try every due message once (recipients in parallel); returns how many were due."""
        due = await self.outbox.due(self.clock(), limit=limit)
        groups: dict[tuple[str, str], list[OutboxMessage]] = {}
        for message in due:
            groups.setdefault((message.service, message.recipient), []).append(message)
        await asyncio.gather(*(self._deliver_recipient(g) for g in groups.values()))
        return len(due)

    # ------------------------------------------------------------------------- run loops

    async def on_app(self, app: Mapping[str, Any]) -> None:
        """Callback form for the controller: evaluate and queue (delivery runs in ``run``)."""
        await self.handle_app(app)

    async def _consume(self, apps: AsyncIterator[Mapping[str, Any]]) -> None:
        async for app in apps:
            try:
                await self.handle_app(app)
            except Exception:
                log.exception("notifications: evaluating an application failed")

    async def run(self, apps: AsyncIterator[Mapping[str, Any]] | None = None, *, stop: asyncio.Event) -> None:
        """Consume ``apps`` (if given) and deliver due messages until ``stop`` is set."""
        consumer = asyncio.create_task(self._consume(apps)) if apps is not None else None
        try:
            while not stop.is_set():
                try:
                    await self.deliver_due()
                except Exception:
                    log.exception("notifications: delivery round failed")
                wait = self.poll_interval
                next_due = await self.outbox.next_due_at()
                if next_due is not None:
                    wait = min(wait, max(0.0, (next_due - self.clock()).total_seconds()))
                self._wake.clear()
                stop_wait = asyncio.create_task(stop.wait())
                wake_wait = asyncio.create_task(self._wake.wait())
                try:
                    await asyncio.wait(
                        {stop_wait, wake_wait}, timeout=wait, return_when=asyncio.FIRST_COMPLETED
                    )
                finally:
                    for task in (stop_wait, wake_wait):
                        task.cancel()
                        with contextlib.suppress(asyncio.CancelledError):
                            await task
        finally:
            if consumer is not None:
                consumer.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await consumer
