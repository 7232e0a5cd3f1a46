"""Typed errors for the Kubernetes API, mapped from HTTP status codes and ``Status`` bodies.

Every error carries the HTTP status, the apiserver's ``reason`` and ``message`` and the object it
was about (``kind``/``namespace``/``name`` when known). Messages never contain request bodies; for
Secrets, any value of the object's ``data``/``stringData`` that the apiserver echoes is masked.
:class:`Transient` errors (429, 5xx, connection failures, timeouts) carry a ``retry_after`` hint in
seconds; every other error is permanent for the same request.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = [
    "AlreadyExists",
    "BadRequest",
    "Conflict",
    "ConnectionFailed",
    "Forbidden",
    "Gone",
    "Invalid",
    "KubeError",
    "MethodNotAllowed",
    "NotFound",
    "ServerError",
    "Timeout",
    "TooManyRequests",
    "Transient",
    "Unauthorized",
    "Unprocessable",
    "error_from_response",
    "mask_values",
]


class KubeError(Exception):
    """An error from (or on the way to) the Kubernetes API."""

    retryable = False

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        reason: str = "",
        kind: str = "",
        namespace: str = "",
        name: str = "",
        details: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.reason = reason
        self.kind = kind
        self.namespace = namespace
        self.name = name
        self.details: Mapping[str, Any] = details or {}

    @property
    def subject(self) -> str:
        """``Kind/namespace/name`` of the involved object (parts that are known)."""
        return "/".join(p for p in (self.kind, self.namespace, self.name) if p)

    def __str__(self) -> str:
        head = f"{self.status} {self.reason}".strip() if self.status else self.reason
        subject = f"{self.subject}: " if self.subject else ""
        return f"{subject}{self.message}" + (f" ({head})" if head else "")


class BadRequest(KubeError):
    """400: the request is malformed (bad patch, bad selector, bad apply body)."""


class Unauthorized(KubeError):
    """401: the credentials were not accepted."""


class Forbidden(KubeError):
    """403: authenticated but not allowed by RBAC (or a namespace is terminating)."""


class NotFound(KubeError):
    """404: the object, namespace or resource type does not exist."""


class MethodNotAllowed(KubeError):
    """405: the resource does not support the verb."""


class Conflict(KubeError):
    """409: a resourceVersion conflict or a server-side apply field-manager conflict.

    ``managers`` names the field managers that own conflicting fields (SSA conflicts only).
    """

    def __init__(self, message: str, *, managers: Iterable[str] = (), **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.managers: tuple[str, ...] = tuple(managers)


class AlreadyExists(Conflict):
    """409 with reason AlreadyExists: create of an object that exists."""


class Gone(KubeError):
    """410: the requested resourceVersion is too old (expired); list again, then watch from there."""


class Invalid(KubeError):
    """422: the object fails validation (or an immutable field changed); the message is the apiserver's.

    ``causes`` holds the ``(field, message)`` pairs the apiserver reported.
    """

    @property
    def causes(self) -> tuple[tuple[str, str], ...]:
        raw = self.details.get("causes") or []
        return tuple((str(c.get("field", "")), str(c.get("message", ""))) for c in raw if isinstance(c, dict))

    @property
    def immutable(self) -> bool:
        """True when the apiserver rejected a change to an immutable field."""
        return "immutable" in self.message.lower()


Unprocessable = Invalid


class Transient(KubeError):
    """A failure worth retrying: 429, 5xx, connection errors, timeouts. ``retry_after`` is in seconds."""

    retryable = True

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class TooManyRequests(Transient):
    """429: throttled by API priority and fairness; honour ``retry_after``."""


class ServerError(Transient):
    """5xx: the apiserver (or an aggregated API behind it) failed or timed out."""


class ConnectionFailed(Transient):
    """The apiserver could not be reached (refused, reset, TLS failure)."""


class Timeout(Transient):
    """The request timed out on our side."""


_BY_STATUS: dict[int, type[KubeError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    405: MethodNotAllowed,
    409: Conflict,
    410: Gone,
    422: Invalid,
    429: TooManyRequests,
}

_MANAGER = re.compile(r'conflicts? with "([^"]+)"')


def mask_values(text: str, secrets: Iterable[str]) -> str:
    """Replace every occurrence of each secret value (4+ characters) in ``text`` with ``***``."""
    for value in sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True):
        text = text.replace(value, "***")
    return text


def _parse_retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def error_from_response(
    status: int,
    body: Any,
    *,
    headers: Mapping[str, str] | None = None,
    kind: str = "",
    namespace: str = "",
    name: str = "",
    secrets: Iterable[str] = (),
) -> KubeError:
    """Build the typed error for an HTTP ``status`` and its decoded body (a ``Status`` dict or text).

    ``secrets`` are values to mask from the message (the data of a Secret being written).
    """
    secret_values = tuple(secrets)
    reason = ""
    details: dict[str, Any] = {}
    if isinstance(body, Mapping):
        message = str(body.get("message") or "")
        reason = str(body.get("reason") or "")
        raw_details = body.get("details")
        if isinstance(raw_details, Mapping):
            details = dict(raw_details)
            if secret_values and isinstance(details.get("causes"), list):
                details["causes"] = [
                    {k: mask_values(str(v), secret_values) for k, v in c.items()}
                    for c in details["causes"]
                    if isinstance(c, Mapping)
                ]
    else:
        message = str(body or "").strip()[:500]
    if not message:
        message = f"HTTP {status}"
    message = mask_values(message, secret_values)
    where: dict[str, Any] = {
        "status": status,
        "reason": reason,
        "kind": kind or str(details.get("kind") or ""),
        "namespace": namespace,
        "name": name or str(details.get("name") or ""),
        "details": details,
    }
    if status == 409:
        if reason == "AlreadyExists":
            return AlreadyExists(message, **where)
        managers = list(dict.fromkeys(_MANAGER.findall(message)))
        return Conflict(message, managers=managers, **where)
    if status == 429 or status >= 500:
        retry = _parse_retry_after((headers or {}).get("retry-after"))
        if retry is None and isinstance(details.get("retryAfterSeconds"), int):
            retry = float(details["retryAfterSeconds"])
        cls: type[Transient] = TooManyRequests if status == 429 else ServerError
        return cls(message, retry_after=retry if retry is not None else 1.0, **where)
    return _BY_STATUS.get(status, KubeError)(message, **where)
