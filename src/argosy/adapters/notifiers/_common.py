"""Helpers shared by the notifier modules (HTTP error classification, JSON fields, settings)."""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from typing import Any

import httpx

from argosy.ports.notify import DeliveryError, PermanentDeliveryError, RetryableDeliveryError

__all__ = [
    "as_bool",
    "block",
    "classify_http",
    "json_field",
    "message_text",
    "redacted_request_logs",
    "scrub",
    "scrubbed",
    "transport_error",
]


def block(rendered: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = rendered.get(name)
    return value if isinstance(value, Mapping) else {}


def message_text(rendered: Mapping[str, Any]) -> str:
    value = rendered.get("message")
    return value if isinstance(value, str) else ""


def as_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in {"true", "yes", "1", "on"}
    return bool(value)


def json_field(value: Any, what: str) -> Any:
    """A template field holding JSON text (Slack attachments/blocks): parsed, or a permanent error."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except json.JSONDecodeError as exc:
        raise PermanentDeliveryError(f"{what} is not valid JSON: {exc}") from exc


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def classify_http(response: httpx.Response, what: str) -> None:
    """Return for 2xx; raise retryable for 408/425/429/5xx, permanent for the other codes."""
    code = response.status_code
    if 200 <= code < 300:
        return
    text = response.text[:300]
    if code in (408, 425, 429) or code >= 500:
        raise RetryableDeliveryError(f"{what}: HTTP {code}: {text}", retry_after=_retry_after(response))
    raise PermanentDeliveryError(f"{what}: HTTP {code}: {text}")


def transport_error(exc: httpx.HTTPError, what: str) -> RetryableDeliveryError:
    return RetryableDeliveryError(f"{what}: {type(exc).__name__}: {exc}")


def scrub(text: str, secrets: list[str]) -> str:
    """``text`` with every secret value (webhook URLs, routing keys) replaced by ``***``."""
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def scrubbed(exc: RetryableDeliveryError | PermanentDeliveryError, secrets: list[str]) -> DeliveryError:
    """The same kind of error, its message scrubbed of ``secrets``."""
    if isinstance(exc, RetryableDeliveryError):
        return RetryableDeliveryError(scrub(str(exc), secrets), retry_after=exc.retry_after)
    return PermanentDeliveryError(scrub(str(exc), secrets))


_REDACT_URLS: ContextVar[bool] = ContextVar("argosy_notifier_redact_urls", default=False)
_URL_PLACEHOLDER = "<notification service URL>"


class _RedactRequestUrls(logging.Filter):
    """httpx logs ``HTTP Request: <method> <url> ...`` at INFO: inside :func:`redacted_request_logs`
    the URL (a Teams or Slack webhook URL is itself the credential) is replaced."""

    def filter(self, record: logging.LogRecord) -> bool:
        if _REDACT_URLS.get() and isinstance(record.args, tuple) and len(record.args) >= 2:
            args = list(record.args)
            args[1] = _URL_PLACEHOLDER
            record.args = tuple(args)
        return True


def _install_filter() -> None:
    logger = logging.getLogger("httpx")
    if not any(isinstance(f, _RedactRequestUrls) for f in logger.filters):
        logger.addFilter(_RedactRequestUrls())


@contextlib.contextmanager
def redacted_request_logs() -> Iterator[None]:
    """Requests sent inside the block (in this task) are logged by httpx without their URL."""
    _install_filter()
    token = _REDACT_URLS.set(True)
    try:
        yield
    finally:
        _REDACT_URLS.reset(token)
