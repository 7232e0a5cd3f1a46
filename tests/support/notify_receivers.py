"""Loopback receivers for the Microsoft Teams and PagerDuty notification services.

One HTTP server on 127.0.0.1 plays three receivers, each recording the requests it got:

* ``/connector/<channel>``: an Office 365 connector incoming webhook (``service.teams``). It answers
  200 with the body ``1``, as the connector did; ``connector_answer`` replaces that body (the
  connector reported throttling as a 200 with ``Microsoft Teams endpoint returned HTTP error 429``).
* ``/workflows/<channel>``: a Power Automate "Workflows" webhook (``service.teams-workflows``):
  202 with an empty body.
* ``/v2/enqueue``: PagerDuty's Events API v2. A known routing key and a valid event (summary, source,
  severity in critical/error/warning/info, event_action trigger) get 202
  ``{"status": "success", "message": "Event processed", "dedup_key": ...}``; an unknown routing key
  or a malformed event gets 400 ``{"status": "invalid event", ...}`` as PagerDuty answers.

Like ``tests/support/receivers.HttpReceiver``, it can be stopped and started again on the same port
to play a receiver that is down.
"""

from __future__ import annotations

import json
import threading
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.support.receivers import LOOPBACK, HttpRequest, free_port, serve_http, stop_http

__all__ = ["TeamsPagerDutyReceiver"]

_SEVERITIES = ("critical", "error", "warning", "info")


@dataclass
class TeamsPagerDutyReceiver:
    routing_keys: set[str]
    port: int = field(default_factory=free_port)
    connector_answer: str = "1"
    requests: list[HttpRequest] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def connector_url(self, channel: str) -> str:
        return f"{self.url}/connector/{channel}"

    def workflow_url(self, channel: str) -> str:
        return f"{self.url}/workflows/{channel}?api-version=1&sig={uuid.uuid4().hex}"

    def _pagerduty(self, body: bytes) -> tuple[int, dict[str, Any]]:
        try:
            event = json.loads(body)
        except ValueError:
            return 400, {
                "status": "invalid event",
                "message": "Event object is invalid",
                "errors": ["not JSON"],
            }
        errors = []
        if event.get("routing_key") not in self.routing_keys:
            errors.append("Invalid routing key")
        if event.get("event_action") != "trigger":
            errors.append("'event_action' is invalid")
        payload = event.get("payload") or {}
        for name in ("summary", "source"):
            if not payload.get(name):
                errors.append(f"'payload.{name}' is missing or blank")
        if payload.get("severity") not in _SEVERITIES:
            errors.append("'payload.severity' is invalid")
        if errors:
            return 400, {"status": "invalid event", "message": "Event object is invalid", "errors": errors}
        dedup = event.get("dedup_key") or uuid.uuid4().hex
        return 202, {"status": "success", "message": "Event processed", "dedup_key": dedup}

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                path = self.path.split("?", 1)[0]
                with receiver._lock:
                    receiver.requests.append(HttpRequest("POST", path, dict(self.headers.items()), body))
                if path == "/v2/enqueue":
                    status, answer = receiver._pagerduty(body)
                    data, content_type = json.dumps(answer).encode(), "application/json"
                elif path.startswith("/connector/"):
                    status, data, content_type = 200, receiver.connector_answer.encode(), "text/plain"
                elif path.startswith("/workflows/"):
                    status, data, content_type = 202, b"", "text/plain"
                else:
                    status, data, content_type = 404, b"not found", "text/plain"
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._server, self._thread = serve_http(self.port, Handler)

    def stop(self) -> None:
        stop_http(self._server, self._thread)
        self._server = self._thread = None

    def at(self, prefix: str) -> list[HttpRequest]:
        with self._lock:
            return [r for r in self.requests if r.path.startswith(prefix)]

    def events(self) -> list[dict[str, Any]]:
        """The PagerDuty events received (accepted or not)."""
        return [r.json() for r in self.at("/v2/enqueue")]
