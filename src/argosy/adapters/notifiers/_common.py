"""Helpers shared by the notifier modules (HTTP error classification, JSON fields, settings)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import httpx

from argosy.ports.notify import DeliveryError, PermanentDeliveryError, RetryableDeliveryError

__all__ = [
    "as_bool",
    "block",
    "classify_http",
    "json_field",
    "message_text",
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
