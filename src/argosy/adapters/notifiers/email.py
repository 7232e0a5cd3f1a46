"""Email over SMTP (``aiosmtplib``): STARTTLS (required when a username is set), or implicit TLS on
port 465, and AUTH. Settings (``service.email``): ``host``, ``port``, ``from``, ``username``,
``password``, ``insecure_skip_verify``, ``html``. The recipient is the address; the template gives
``email.subject`` and ``email.body`` (default: ``message``).
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from email.message import EmailMessage
from typing import Any

import aiosmtplib

from argosy.adapters.notifiers._common import as_bool, block, message_text
from argosy.ports.notify import DeliveryTarget, PermanentDeliveryError, RetryableDeliveryError

__all__ = ["EmailNotifier", "build_message"]


def build_message(destination: DeliveryTarget, rendered: Mapping[str, Any]) -> EmailMessage:
    settings = destination.settings
    email = block(rendered, "email")
    msg = EmailMessage()
    sender = settings.get("from")
    if not sender:
        raise PermanentDeliveryError(f"email {destination.service}: no from address")
    if not destination.recipient:
        raise PermanentDeliveryError(f"email {destination.service}: no recipient")
    msg["From"] = str(sender)
    msg["To"] = destination.recipient
    msg["Subject"] = " ".join(str(email.get("subject") or "").split())
    body = email.get("body")
    text = body if isinstance(body, str) and body else message_text(rendered)
    if as_bool(settings.get("html", False)):
        msg.set_content(text, subtype="html")
    else:
        msg.set_content(text)
    return msg


class EmailNotifier:
    def __init__(self, *, tls_context: ssl.SSLContext | None = None, timeout: float = 30.0) -> None:
        self._tls_context = tls_context
        self._timeout = timeout

    async def send(self, destination: DeliveryTarget, rendered: Mapping[str, Any]) -> None:
        settings = destination.settings
        what = f"email {destination.service}:{destination.recipient}"
        host = settings.get("host")
        if not host:
            raise PermanentDeliveryError(f"{what}: no host")
        port = int(settings.get("port") or 587)
        username = settings.get("username")
        password = settings.get("password")
        insecure = as_bool(settings.get("insecure_skip_verify", False))
        message = build_message(destination, rendered)
        implicit_tls = port == 465
        try:
            await aiosmtplib.send(
                message,
                hostname=str(host),
                port=port,
                username=str(username) if username else None,
                password=str(password) if password else None,
                use_tls=implicit_tls,
                # Never send credentials in clear text: STARTTLS is required when there is a username.
                start_tls=None if implicit_tls else (True if username else None),
                validate_certs=not insecure,
                tls_context=None if insecure else self._tls_context,
                timeout=self._timeout,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [r.code for r in exc.recipients]
            if codes and all(400 <= c < 500 for c in codes):
                raise RetryableDeliveryError(f"{what}: recipient refused {codes}") from exc
            raise PermanentDeliveryError(f"{what}: recipient refused {codes}") from exc
        except aiosmtplib.SMTPResponseException as exc:
            if 400 <= exc.code < 500:
                raise RetryableDeliveryError(f"{what}: {exc.code} {exc.message}") from exc
            raise PermanentDeliveryError(f"{what}: {exc.code} {exc.message}") from exc
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise RetryableDeliveryError(f"{what}: {type(exc).__name__}: {exc}") from exc
