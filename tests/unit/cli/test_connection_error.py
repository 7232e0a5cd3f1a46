"""The CLI's message for a failed connection names the flag that would help."""

from __future__ import annotations

import httpx
import pytest

from argosy.cli.client import connection_error


def _caused(exc: httpx.HTTPError, cause: BaseException) -> httpx.HTTPError:
    exc.__cause__ = cause
    return exc


@pytest.mark.parametrize(
    "exc",
    [
        httpx.RemoteProtocolError("Server disconnected without sending a response."),
        _caused(httpx.ReadError("[Errno 104] Connection reset by peer"), ConnectionResetError(104, "reset")),
    ],
    ids=["disconnected", "reset"],
)
def test_plain_http_to_a_tls_server_suggests_dropping_plaintext(exc: httpx.HTTPError) -> None:
    message = connection_error("http://127.0.0.1:8080", exc)
    assert message.startswith("cannot reach http://127.0.0.1:8080: ")
    assert "drop --plaintext" in message


def test_other_read_errors_get_no_plaintext_hint() -> None:
    message = connection_error("http://127.0.0.1:8080", httpx.ReadTimeout("timed out"))
    assert "drop --plaintext" not in message
    assert "ReadTimeout" in message
