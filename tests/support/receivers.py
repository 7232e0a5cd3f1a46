"""Local receivers for notification tests: an HTTP server (Slack API, Slack incoming webhook, generic
webhook) and an SMTP server (aiosmtpd) with STARTTLS and AUTH, all on 127.0.0.1.

The HTTP receiver can be stopped and started again on the same port to play a receiver that is down.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import socket
import ssl
import tempfile
import threading
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

LOOPBACK = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return int(s.getsockname()[1])


def serve_http(
    port: int, handler: type[BaseHTTPRequestHandler]
) -> tuple[ThreadingHTTPServer, threading.Thread]:
    """A threaded HTTP server on ``LOOPBACK:port`` with ``handler``, serving from a daemon thread."""
    server = ThreadingHTTPServer((LOOPBACK, port), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    return server, thread


def stop_http(server: ThreadingHTTPServer | None, thread: threading.Thread | None) -> None:
    """Stop what :func:`serve_http` started (either may be ``None``: not started)."""
    if server is not None:
        server.shutdown()
        server.server_close()
    if thread is not None:
        thread.join(timeout=5)


@dataclass
class HttpRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class HttpReceiver:
    """Slack's ``/api/chat.postMessage`` (Bearer ``slack_token``), ``/slack-hook`` and anything else
    as a generic webhook; records every request."""

    slack_token: str
    port: int = field(default_factory=free_port)
    requests: list[HttpRequest] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                request = HttpRequest(self.command, self.path, {k: v for k, v in self.headers.items()}, body)
                with receiver._lock:
                    receiver.requests.append(request)
                if self.path == "/api/chat.postMessage":
                    ok = self.headers.get("Authorization") == f"Bearer {receiver.slack_token}"
                    answer = {"ok": True, "ts": "1.0"} if ok else {"ok": False, "error": "invalid_auth"}
                    data = json.dumps(answer).encode()
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                else:
                    data = b"ok"
                    self.send_response(200)
                    self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_POST = do_PUT = do_GET = _handle

        self._server, self._thread = serve_http(self.port, Handler)

    def stop(self) -> None:
        stop_http(self._server, self._thread)
        self._server = self._thread = None

    def slack_messages(self) -> list[dict[str, Any]]:
        with self._lock:
            return [r.json() for r in self.requests if r.path == "/api/chat.postMessage"]

    def at(self, path: str) -> list[HttpRequest]:
        with self._lock:
            return [r for r in self.requests if r.path == path]


def self_signed_tls() -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """(server context, client context trusting it) for a certificate of 127.0.0.1."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "argosy-test-smtp")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(LOOPBACK))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    with tempfile.TemporaryDirectory() as d:
        cert_path = Path(d) / "cert.pem"
        key_path = Path(d) / "key.pem"
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        server.load_cert_chain(cert_path, key_path)
    client = ssl.create_default_context(cadata=cert.public_bytes(serialization.Encoding.PEM).decode())
    return server, client


@dataclass
class SmtpReceiver:
    """aiosmtpd with STARTTLS required and AUTH (``username``/``password``) required."""

    username: str
    password: str
    port: int = field(default_factory=free_port)
    messages: list[tuple[str, list[str], Message]] = field(default_factory=list)
    client_tls: ssl.SSLContext | None = None
    _controller: Controller | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> None:
        server_tls, self.client_tls = self_signed_tls()
        receiver = self

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
                message = message_from_bytes(
                    envelope.original_content or envelope.content, policy=policy.default
                )
                with receiver._lock:
                    receiver.messages.append((envelope.mail_from, list(envelope.rcpt_tos), message))
                return "250 OK"

        def authenticator(
            server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
        ) -> AuthResult:
            ok = (
                isinstance(auth_data, LoginPassword)
                and auth_data.login.decode() == receiver.username
                and auth_data.password.decode() == receiver.password
            )
            return AuthResult(success=ok, handled=False)

        self._controller = Controller(
            Handler(),
            hostname=LOOPBACK,
            port=self.port,
            tls_context=server_tls,
            require_starttls=True,
            authenticator=authenticator,
            auth_required=True,
        )
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def received(self) -> list[tuple[str, list[str], Message]]:
        with self._lock:
            return list(self.messages)
