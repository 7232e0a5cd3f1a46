"""The ``git_server`` fixture: real Git servers on loopback, one per test session.

A :class:`GitServer` keeps bare repositories under a temporary directory and serves them two ways:

* **Smart HTTP** on ``127.0.0.1:<free port>``: a small stdlib ``http.server`` running in a thread hands
  every request to the real ``git http-backend`` CGI program (so ``info/refs``, ``git-upload-pack`` and
  ``git-receive-pack`` all behave exactly like a production Git host). Requests need HTTP Basic auth
  (``username`` / ``password``, a generated token by default); a wrong or missing ``Authorization``
  header gets ``401`` with ``WWW-Authenticate: Basic``, which git reports as "Authentication failed".
  Chunked request bodies (git sends them for large pushes) are de-chunked here; gzip request bodies are
  passed through because ``git http-backend`` inflates them itself.
* **SSH** on ``127.0.0.1:<free port>``: the system ``/usr/sbin/sshd`` with its own config, host key and
  authorized key, all generated under the temporary directory. Logins are key-only, as the user running
  the tests (``root`` in the sandbox and in CI, allowed through ``PermitRootLogin
  forced-commands-only``), and the authorized key is pinned to a forced command that runs
  ``git-shell`` for git's pack services on repositories under the repository root and nothing else.

Nothing listens beyond 127.0.0.1 and everything started here is stopped by :meth:`GitServer.stop`,
which also checks that both ports stopped listening. See ``docs/testing-git-server.md``.
"""

from __future__ import annotations

import base64
import contextlib
import ctypes
import ctypes.util
import hmac
import logging
import os
import pwd
import re
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import IO, Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

__all__ = [
    "BareRepo",
    "GitServer",
    "HTTPRequestRecord",
    "git_repo",
    "git_server",
    "isolated_git_env",
]

log = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
GIT = shutil.which("git") or "/usr/bin/git"
HTTP_BACKEND = "/usr/lib/git-core/git-http-backend"
GIT_SHELL = shutil.which("git-shell") or "/usr/lib/git-core/git-shell"
SSHD = "/usr/sbin/sshd"  # sshd refuses to run unless started by an absolute path (it re-executes itself)
SSH_KEYGEN = shutil.which("ssh-keygen") or "/usr/bin/ssh-keygen"
SSH = shutil.which("ssh") or "/usr/bin/ssh"

DEFAULT_USERNAME = "argosy"
REALM = "Argosy test git server"
COMMITTER_NAME = "Argosy Tests"
COMMITTER_EMAIL = "tests@argosy.invalid"

_REPO_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)*$")
_COPY_CHUNK = 64 * 1024


def isolated_git_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for running git in tests, unaffected by the machine's or the user's git setup.

    Inherited ``GIT_*`` variables are dropped (pytest may run under a git hook that sets ``GIT_DIR``),
    system and global config are ignored, prompts are off (a missing credential fails instead of
    hanging) and loopback bypasses any HTTP proxy. ``extra`` is applied last.
    """
    env = {key: value for key, value in os.environ.items() if not key.startswith("GIT_")}
    env.update(
        GIT_CONFIG_NOSYSTEM="1",
        GIT_CONFIG_GLOBAL=os.devnull,
        GIT_TERMINAL_PROMPT="0",
        GIT_ASKPASS="",
        SSH_ASKPASS="",
    )
    no_proxy = ",".join(
        part for part in (env.get("NO_PROXY") or env.get("no_proxy"), "127.0.0.1,localhost") if part
    )
    env["NO_PROXY"] = env["no_proxy"] = no_proxy
    if extra:
        env.update(extra)
    return env


def _run_git(*args: str, cwd: Path | None = None, env: Mapping[str, str] | None = None) -> str:
    """Run git with an isolated environment and return stdout; raise with git's stderr on failure."""
    result = subprocess.run(
        [GIT, *args],
        cwd=cwd,
        env=isolated_git_env(env),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed ({result.returncode}):\n{result.stderr}")
    return result.stdout


def _free_port() -> int:
    """A currently free TCP port on loopback (for sshd, which must be told its port up front)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def _is_listening(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(1.0)
        return sock.connect_ex((LOOPBACK, port)) == 0


def _wait_until_closed(port: int, what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while _is_listening(port):
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} still accepts connections on {LOOPBACK}:{port} after stop")
        time.sleep(0.05)


def _die_with_parent() -> Callable[[], None] | None:
    """A ``preexec_fn`` asking Linux to SIGTERM the child if pytest dies without running teardown.

    The libc lookup happens here, in the parent, so the child only makes one system call. Linux sends
    the signal when the *thread* that forked exits, so start servers from the main thread (fixtures
    do), not from a short-lived worker thread.
    """
    if not sys.platform.startswith("linux"):
        return None
    libc_name = ctypes.util.find_library("c")
    if libc_name is None:
        return None
    prctl = ctypes.CDLL(libc_name, use_errno=True).prctl
    pr_set_pdeathsig = 1

    def preexec() -> None:
        prctl(pr_set_pdeathsig, int(signal.SIGTERM), 0, 0, 0)

    return preexec


# --------------------------------------------------------------------------------------------------
# Repositories
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BareRepo:
    """A bare repository held by a :class:`GitServer`; ``name`` has no ``.git`` suffix."""

    server: GitServer
    name: str
    path: Path

    @property
    def http_url(self) -> str:
        return self.server.http_url(self.name)

    @property
    def ssh_url(self) -> str:
        return self.server.ssh_url(self.name)

    def commit_directory(
        self,
        source_dir: Path,
        message: str,
        *,
        branch: str = "main",
        tag: str | None = None,
        annotated_tag: bool = False,
    ) -> str:
        return self.server.commit_directory(
            self.name, source_dir, message, branch=branch, tag=tag, annotated_tag=annotated_tag
        )

    def commit_files(
        self,
        files: Mapping[str, str | bytes],
        message: str,
        *,
        branch: str = "main",
        tag: str | None = None,
        annotated_tag: bool = False,
        replace: bool = False,
    ) -> str:
        return self.server.commit_files(
            self.name,
            files,
            message,
            branch=branch,
            tag=tag,
            annotated_tag=annotated_tag,
            replace=replace,
        )

    def rev_parse(self, ref: str) -> str:
        return self.server.rev_parse(self.name, ref)


# Every started GitServer until its stop(), so the session can catch servers that were never stopped.
_RUNNING: set[GitServer] = set()
_RUNNING_LOCK = threading.Lock()


# --------------------------------------------------------------------------------------------------
# Smart HTTP: stdlib HTTP server in front of the git http-backend CGI
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HTTPRequestRecord:
    """One request the HTTP server answered (for tests that assert on the wire behaviour)."""

    method: str
    path: str
    query: str
    status: int
    user: str | None
    chunked: bool
    content_encoding: str | None
    body_bytes: int


class _GitHTTPServer(ThreadingHTTPServer):
    # Request threads are joined by server_close(), so nothing outlives stop(); connections still
    # open at stop are shut down first (see close_connections) so the joins cannot hang.
    daemon_threads = False
    block_on_close = True

    def __init__(
        self,
        project_root: Path,
        *,
        username: str,
        password: str,
        allow_anonymous_read: bool,
    ) -> None:
        self.project_root = project_root
        self.username = username
        self.password = password
        self.allow_anonymous_read = allow_anonymous_read
        self.records: list[HTTPRequestRecord] = []
        self.records_lock = threading.Lock()
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__((LOOPBACK, 0), _GitHTTPHandler)

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Wake request threads blocked on idle keep-alive connections so they can be joined."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hangs up mid-response is normal for git (e.g. ls-remote); anything else is logged.
        error = sys.exc_info()[1]
        if isinstance(error, ConnectionError | TimeoutError):
            log.debug("git http: connection from %s ended: %r", client_address, error)
        else:
            log.exception("git http: error while serving %s", client_address)


class _GitHTTPHandler(BaseHTTPRequestHandler):
    """Authenticates a request, then runs ``git http-backend`` as a CGI program for it."""

    server: _GitHTTPServer
    protocol_version = "HTTP/1.1"  # keep-alive, chunked responses, and "100 Continue" for git's POSTs
    server_version = "ArgosyTestGit/1"
    timeout = 60  # seconds a connection may sit idle or stall mid-body
    # Responses go out as several small writes (headers, chunks, terminator); with Nagle's algorithm
    # each later write waits for the client's delayed ACK, adding ~40 ms to every request.
    disable_nagle_algorithm = True

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("git http: %s %s", self.address_string(), format % args)

    # -- request side ----------------------------------------------------------------------------

    def _read_body(self, sink: IO[bytes]) -> tuple[int, bool]:
        """Copy the request body into ``sink``, undoing chunked transfer encoding; (bytes, chunked)."""
        transfer_encoding = self.headers.get("Transfer-Encoding", "").lower()
        if "chunked" in transfer_encoding:
            total = 0
            while True:
                size_line = self.rfile.readline(65537)
                if not size_line:
                    raise ConnectionError("client closed the connection inside a chunked body")
                size = int(size_line.split(b";", 1)[0].strip(), 16)
                if size == 0:
                    # Optional trailer headers, then the empty line ending the body.
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    return total, True
                remaining = size
                while remaining:
                    data = self.rfile.read(min(remaining, _COPY_CHUNK))
                    if not data:
                        raise ConnectionError("client closed the connection inside a chunk")
                    sink.write(data)
                    remaining -= len(data)
                total += size
                self.rfile.readline(3)  # the CRLF after each chunk
        length = int(self.headers.get("Content-Length") or 0)
        remaining = length
        while remaining:
            data = self.rfile.read(min(remaining, _COPY_CHUNK))
            if not data:
                raise ConnectionError("client closed the connection inside the body")
            sink.write(data)
            remaining -= len(data)
        return length, False

    def _authenticated_user(self) -> str | None:
        header = self.headers.get("Authorization", "")
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            username, _, password = base64.b64decode(encoded.strip(), validate=True).decode().partition(":")
        except ValueError:  # binascii.Error and UnicodeDecodeError are both ValueErrors
            return None
        # Compare both parts, always, in constant time.
        ok_user = hmac.compare_digest(username.encode(), self.server.username.encode())
        ok_password = hmac.compare_digest(password.encode(), self.server.password.encode())
        return username if ok_user and ok_password else None

    @staticmethod
    def _is_write(path: str, query: str) -> bool:
        return path.endswith("/git-receive-pack") or "git-receive-pack" in parse_qs(query).get("service", [])

    # -- response side ---------------------------------------------------------------------------

    def _serve(self) -> None:
        split = urlsplit(self.path)
        path, query = unquote(split.path), split.query
        with tempfile.TemporaryFile(prefix="git-http-body-") as body:
            try:
                body_bytes, chunked = self._read_body(body)
            except (ValueError, ConnectionError) as error:
                self.close_connection = True
                self.send_error(400, f"Bad request body: {error}")
                return
            body.seek(0)
            user = self._authenticated_user()

            def record(status: int) -> None:
                # Called before the response is sent, so a client that saw the response can rely on
                # finding its request in GitServer.http_requests.
                entry = HTTPRequestRecord(
                    method=self.command,
                    path=path,
                    query=query,
                    status=status,
                    user=user,
                    chunked=chunked,
                    content_encoding=self.headers.get("Content-Encoding"),
                    body_bytes=body_bytes,
                )
                with self.server.records_lock:
                    self.server.records.append(entry)

            anonymous_ok = self.server.allow_anonymous_read and not self._is_write(path, query)
            if user is None and not anonymous_ok:
                self._send_unauthorized(record)
            else:
                self._run_backend(path, query, body, body_bytes, user, record)

    def _send_unauthorized(self, record: Callable[[int], None]) -> None:
        payload = b"Authentication required\n"
        record(401)
        self.send_response(401)
        self.send_header("WWW-Authenticate", f'Basic realm="{REALM}", charset="UTF-8"')
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _cgi_environment(self, path: str, query: str, body_bytes: int, user: str | None) -> dict[str, str]:
        env = isolated_git_env(
            {
                "GIT_PROJECT_ROOT": str(self.server.project_root),
                "GIT_HTTP_EXPORT_ALL": "1",
                "GATEWAY_INTERFACE": "CGI/1.1",
                "SERVER_PROTOCOL": "HTTP/1.1",
                "SERVER_SOFTWARE": self.server_version,
                "SERVER_NAME": LOOPBACK,
                "SERVER_PORT": str(self.server.port),
                "REQUEST_METHOD": self.command,
                "PATH_INFO": path,
                "QUERY_STRING": query,
                "REMOTE_ADDR": str(self.client_address[0]),
                "CONTENT_TYPE": self.headers.get("Content-Type", ""),
                # The body was de-chunked into a file, so its exact length is always known here.
                "CONTENT_LENGTH": str(body_bytes),
            }
        )
        if user is not None:
            # http-backend enables receive-pack (pushes) only for authenticated users by default.
            env["REMOTE_USER"] = user
            env["AUTH_TYPE"] = "Basic"
        # Other headers become HTTP_* variables, as CGI prescribes. This carries Git-Protocol (protocol
        # v2) and Content-Encoding (http-backend inflates gzip bodies itself). Credentials and the
        # transfer framing, which this server has already handled, are not passed on.
        skip = {"authorization", "content-type", "content-length", "transfer-encoding", "connection"}
        for name, value in self.headers.items():
            if name.lower() not in skip:
                env["HTTP_" + name.upper().replace("-", "_")] = value
        return env

    def _run_backend(
        self,
        path: str,
        query: str,
        body: IO[bytes],
        body_bytes: int,
        user: str | None,
        record: Callable[[int], None],
    ) -> None:
        env = self._cgi_environment(path, query, body_bytes, user)
        with (
            tempfile.TemporaryFile(prefix="git-http-stderr-") as stderr,
            subprocess.Popen(
                [HTTP_BACKEND], stdin=body, stdout=subprocess.PIPE, stderr=stderr, env=env
            ) as backend,
        ):
            assert backend.stdout is not None
            try:
                self._relay_cgi_output(backend.stdout, record)
            except (ConnectionError, TimeoutError):
                self.close_connection = True
                backend.kill()
                raise
            finally:
                backend.stdout.close()
                backend.wait(timeout=60)
                stderr.seek(0)
                errors = stderr.read().decode(errors="replace").strip()
                if errors or backend.returncode != 0:
                    log.warning(
                        "git http-backend %s %s exited %s: %s", self.command, path, backend.returncode, errors
                    )

    def _relay_cgi_output(self, output: IO[bytes], record: Callable[[int], None]) -> None:
        """Turn the CGI response (headers, blank line, body) into an HTTP/1.1 response."""
        status, reason = 200, "OK"
        headers: list[tuple[str, str]] = []
        while True:
            line = output.readline()
            if not line:  # output ended inside the headers: http-backend failed before answering
                record(502)
                self.send_error(502, "git http-backend produced no response")
                return
            if line in (b"\r\n", b"\n"):
                break
            name, _, value = line.decode("latin-1").partition(":")
            name, value = name.strip(), value.strip()
            if name.lower() == "status":
                code, _, text = value.partition(" ")
                status, reason = int(code), text or reason
            else:
                headers.append((name, value))
        record(status)
        self.send_response(status, reason)
        for name, value in headers:
            self.send_header(name, value)
        has_length = any(name.lower() == "content-length" for name, _ in headers)
        if not has_length:
            # Smart-protocol responses are streamed and their length is unknown up front.
            self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        read = getattr(output, "read1", output.read)
        while data := read(_COPY_CHUNK):
            if has_length:
                self.wfile.write(data)
            else:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        if not has_length:
            self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


# --------------------------------------------------------------------------------------------------
# SSH: the system sshd with a private configuration
# --------------------------------------------------------------------------------------------------

_FORCED_COMMAND = """#!/bin/sh
# Forced command for the test client key (authorized_keys "command="): only git's pack services, only
# for repositories under {root}, and through git-shell, which refuses anything else.
case "$SSH_ORIGINAL_COMMAND" in
  *..*) echo "argosy test git server: '..' is not allowed" >&2; exit 1 ;;
  "git-upload-pack '{root}/"*|"git-receive-pack '{root}/"*|"git-upload-archive '{root}/"*) ;;
  *) echo "argosy test git server: command not allowed: $SSH_ORIGINAL_COMMAND" >&2; exit 1 ;;
esac
exec {git_shell} -c "$SSH_ORIGINAL_COMMAND"
"""


class _SSHServer:
    """One ``sshd -D`` process bound to a free loopback port, with keys and config in ``state_dir``."""

    def __init__(self, state_dir: Path, repos_dir: Path) -> None:
        self.state_dir = state_dir
        self.repos_dir = repos_dir
        self.user = pwd.getpwuid(os.geteuid()).pw_name
        self.host_key = state_dir / "ssh_host_ed25519_key"
        self.client_key = state_dir / "client_ed25519"
        self.authorized_keys = state_dir / "authorized_keys"
        self.known_hosts = state_dir / "known_hosts"
        self.config = state_dir / "sshd_config"
        self.log_file = state_dir / "sshd.log"
        self.port = 0
        self.known_hosts_line = ""
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def start(self) -> None:
        self.state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._keygen(self.host_key, "argosy-test-git-server-host")
        self._keygen(self.client_key, "argosy-test-git-client")
        forced_command = self.state_dir / "git-only"
        forced_command.write_text(_FORCED_COMMAND.format(root=self.repos_dir, git_shell=GIT_SHELL))
        forced_command.chmod(0o755)
        client_public = self.client_key.with_suffix(".pub").read_text().strip()
        # "restrict" turns off forwarding, PTYs and ~/.ssh/rc; "command=" pins the key to git-only.
        self.authorized_keys.write_text(f'restrict,command="{forced_command}" {client_public}\n')
        if os.geteuid() == 0:
            # Privilege separation directory that Debian's packaged sshd expects (absent in containers).
            Path("/run/sshd").mkdir(mode=0o755, parents=True, exist_ok=True)
        for _attempt in range(5):  # the free port may be taken between probing it and sshd binding it
            self.port = _free_port()
            self._write_config()
            if self._launch():
                break
        else:
            raise RuntimeError(f"sshd did not start; log:\n{self._log_tail()}")
        host_public = self.host_key.with_suffix(".pub").read_text().split()
        self.known_hosts_line = f"[{LOOPBACK}]:{self.port} {host_public[0]} {host_public[1]}"
        self.known_hosts.write_text(self.known_hosts_line + "\n")

    def _keygen(self, path: Path, comment: str) -> None:
        for stale in (path, path.with_suffix(".pub")):
            stale.unlink(missing_ok=True)
        subprocess.run(
            [SSH_KEYGEN, "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
            check=True,
            capture_output=True,
        )

    def _write_config(self) -> None:
        root_login = "forced-commands-only" if self.user == "root" else "no"
        lines = [
            f"Port {self.port}",
            f"ListenAddress {LOOPBACK}",
            f"HostKey {self.host_key}",
            f"PidFile {self.state_dir / 'sshd.pid'}",
            f"AuthorizedKeysFile {self.authorized_keys}",
            "AuthorizedPrincipalsFile none",
            f"AllowUsers {self.user}",
            f"PermitRootLogin {root_login}",
            "PubkeyAuthentication yes",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "HostbasedAuthentication no",
            "UsePAM no",
            "StrictModes no",  # the temporary directory's permissions are not sshd's business
            "UseDNS no",
            "PermitUserEnvironment no",
            "AcceptEnv GIT_PROTOCOL",  # lets git negotiate protocol v2 over SSH
            "AllowTcpForwarding no",
            "AllowAgentForwarding no",
            "X11Forwarding no",
            "PermitTTY no",
            "PrintMotd no",
            "PrintLastLog no",
            "MaxStartups 100",  # tests may open many connections at once
            "LogLevel VERBOSE",
        ]
        # OpenSSH >= 9.8 penalises sources with failed logins; in tests every client is 127.0.0.1.
        candidate = [*lines, "PerSourcePenalties no"]
        self.config.write_text("\n".join(candidate) + "\n")
        check = subprocess.run(
            [SSHD, "-t", "-f", str(self.config)], capture_output=True, text=True, check=False
        )
        if check.returncode != 0:
            self.config.write_text("\n".join(lines) + "\n")

    def _launch(self) -> bool:
        """Start sshd and wait for its banner; False if the port was taken meanwhile."""
        self.log_file.write_text("")
        self._process = subprocess.Popen(
            [SSHD, "-D", "-f", str(self.config), "-E", str(self.log_file)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            # Safe enough here: the child only calls prctl(2) before exec, and GitServer.start forks
            # sshd before it starts its own HTTP thread.
            preexec_fn=_die_with_parent(),  # noqa: PLW1509
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                self._process = None
                if "Address already in use" in self._log_tail():
                    return False
                raise RuntimeError(f"sshd exited at start; log:\n{self._log_tail()}")
            with contextlib.suppress(OSError), socket.create_connection((LOOPBACK, self.port), 1) as conn:
                conn.settimeout(2)
                if conn.recv(64).startswith(b"SSH-2.0-"):
                    return True
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"sshd did not answer on port {self.port} in 15s; log:\n{self._log_tail()}")

    def _log_tail(self) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-40:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        # Only the listener is ours to stop: per-connection children have ended with their clients.
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        _wait_until_closed(self.port, "sshd")


# --------------------------------------------------------------------------------------------------
# The server
# --------------------------------------------------------------------------------------------------


class GitServer:
    """Bare repositories under ``base_dir``, served over smart HTTP (Basic auth) and SSH on loopback.

    Use as a context manager or call :meth:`start` and :meth:`stop`. ``password`` is the HTTP token;
    a random one is generated when omitted. With ``allow_anonymous_read`` clones and fetches need no
    credentials (pushes still do).
    """

    def __init__(
        self,
        base_dir: Path,
        *,
        username: str = DEFAULT_USERNAME,
        password: str | None = None,
        allow_anonymous_read: bool = False,
    ) -> None:
        self.base_dir = base_dir
        self.repos_dir = base_dir / "repos"
        self._scratch_dir = base_dir / "scratch"
        self.username = username
        self.password = password if password is not None else secrets.token_urlsafe(24)
        self.allow_anonymous_read = allow_anonymous_read
        self._http: _GitHTTPServer | None = None
        self._http_thread: threading.Thread | None = None
        self._ssh: _SSHServer | None = None
        self._commit_lock = threading.Lock()
        for directory in (self.repos_dir, self._scratch_dir):
            directory.mkdir(parents=True, exist_ok=True)

    # -- lifecycle --------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._http is not None or self._ssh is not None

    def start(self, *, http: bool = True, ssh: bool = True) -> GitServer:
        if self.running:
            raise RuntimeError("this GitServer is running already")
        with _RUNNING_LOCK:
            _RUNNING.add(self)
        try:
            if ssh:  # first, so sshd is forked before the HTTP thread exists
                self._ssh = _SSHServer(self.base_dir / "ssh", self.repos_dir)
                self._ssh.start()
            if http:
                self._http = _GitHTTPServer(
                    self.repos_dir,
                    username=self.username,
                    password=self.password,
                    allow_anonymous_read=self.allow_anonymous_read,
                )
                self._http_thread = threading.Thread(
                    target=self._http.serve_forever,
                    kwargs={"poll_interval": 0.1},
                    name=f"git-http-{self._http.port}",
                    # A daemon, so a server a test forgot to stop cannot hang interpreter exit; the
                    # session-wide check below reports (and stops) such servers instead.
                    daemon=True,
                )
                self._http_thread.start()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop both servers and verify that neither port still accepts connections."""
        errors: list[BaseException] = []
        http, thread, self._http, self._http_thread = self._http, self._http_thread, None, None
        if http is not None:
            try:
                http.shutdown()  # ends serve_forever (returns immediately if it never ran)
                http.close_connections()
                http.server_close()  # closes the listener and joins request threads
                if thread is not None:
                    thread.join(timeout=10)
                    if thread.is_alive():
                        raise RuntimeError("git http server thread did not stop")
                _wait_until_closed(http.port, "git http server")
            except Exception as error:
                errors.append(error)
        ssh, self._ssh = self._ssh, None
        if ssh is not None:
            try:
                ssh.stop()
            except Exception as error:
                errors.append(error)
        with _RUNNING_LOCK:
            _RUNNING.discard(self)
        if errors:
            raise errors[0]

    def __enter__(self) -> GitServer:
        """Starts both servers unless :meth:`start` was called already (``with s.start(ssh=False):``)."""
        return self if self.running else self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- endpoints --------------------------------------------------------------------------------

    def _require_http(self) -> _GitHTTPServer:
        if self._http is None:
            raise RuntimeError("the HTTP server is not running")
        return self._http

    def _require_ssh(self) -> _SSHServer:
        if self._ssh is None:
            raise RuntimeError("the SSH server is not running")
        return self._ssh

    @property
    def token(self) -> str:
        """The HTTP password, under the name Git hosts use for it."""
        return self.password

    @property
    def http_port(self) -> int:
        return self._require_http().port

    @property
    def http_base_url(self) -> str:
        return f"http://{LOOPBACK}:{self.http_port}"

    @property
    def http_requests(self) -> list[HTTPRequestRecord]:
        """Requests answered so far, oldest first (a copy)."""
        http = self._require_http()
        with http.records_lock:
            return list(http.records)

    @property
    def ssh_port(self) -> int:
        return self._require_ssh().port

    @property
    def ssh_user(self) -> str:
        return self._require_ssh().user

    @property
    def sshd_pid(self) -> int | None:
        return self._ssh.pid if self._ssh is not None else None

    @property
    def client_key_path(self) -> Path:
        """The private key (OpenSSH format, mode 0600) that the SSH server accepts."""
        return self._require_ssh().client_key

    @property
    def client_private_key(self) -> str:
        return self.client_key_path.read_text()

    @property
    def client_public_key(self) -> str:
        return self.client_key_path.with_suffix(".pub").read_text().strip()

    @property
    def known_hosts_line(self) -> str:
        """``[127.0.0.1]:PORT ssh-ed25519 AAAA...`` for the server's host key."""
        return self._require_ssh().known_hosts_line

    @property
    def known_hosts_path(self) -> Path:
        """A known_hosts file holding just :attr:`known_hosts_line`."""
        return self._require_ssh().known_hosts

    def http_url(self, name: str) -> str:
        return f"{self.http_base_url}/{self._normalize(name)}.git"

    def ssh_url(self, name: str) -> str:
        ssh = self._require_ssh()
        return f"ssh://{ssh.user}@{LOOPBACK}:{ssh.port}{self.repos_dir / self._normalize(name)}.git"

    # -- client helpers ---------------------------------------------------------------------------

    def http_auth_env(self, username: str | None = None, password: str | None = None) -> dict[str, str]:
        """Env vars making git send Basic credentials as an ``http.extraHeader`` (not in the URL).

        Uses ``GIT_CONFIG_COUNT``, so merge it with no other ``GIT_CONFIG_*`` variables.
        """
        pair = f"{username if username is not None else self.username}:"
        pair += password if password is not None else self.password
        header = "Authorization: Basic " + base64.b64encode(pair.encode()).decode()
        return {"GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "http.extraHeader", "GIT_CONFIG_VALUE_0": header}

    def credential_helper_env(
        self, username: str | None = None, password: str | None = None
    ) -> dict[str, str]:
        """Env vars configuring an inline credential helper that answers with these credentials.

        Unlike :meth:`http_auth_env`, git sends these only after a 401 and, when they are rejected,
        fails with "Authentication failed".
        """
        user = shlex.quote(username if username is not None else self.username)
        secret = shlex.quote(password if password is not None else self.password)
        helper = f"!f() {{ test \"$1\" = get && printf 'username=%s\\npassword=%s\\n' {user} {secret}; }}; f"
        return {
            "GIT_CONFIG_COUNT": "1",
            "GIT_CONFIG_KEY_0": "credential.helper",
            "GIT_CONFIG_VALUE_0": helper,
        }

    def ssh_command(self, known_hosts: Path | None = None, key: Path | None = None) -> str:
        """A ``GIT_SSH_COMMAND`` with strict host key checking against ``known_hosts``.

        Defaults to the fixture's key and known_hosts file; ssh ignores the user's ~/.ssh and agent.
        """
        args = [
            SSH,
            "-F",
            os.devnull,
            "-i",
            str(key or self.client_key_path),
            "-o",
            "IdentitiesOnly=yes",
            "-o",
            "IdentityAgent=none",
            "-o",
            f"UserKnownHostsFile={known_hosts or self.known_hosts_path}",
            "-o",
            f"GlobalKnownHostsFile={os.devnull}",
            "-o",
            "StrictHostKeyChecking=yes",
            "-o",
            "UpdateHostKeys=no",
            "-o",
            "BatchMode=yes",
            "-o",
            "ConnectTimeout=10",
        ]
        return shlex.join(args)

    def ssh_env(self, known_hosts: Path | None = None, key: Path | None = None) -> dict[str, str]:
        return {"GIT_SSH_COMMAND": self.ssh_command(known_hosts, key)}

    # -- repositories -----------------------------------------------------------------------------

    @staticmethod
    def _normalize(name: str) -> str:
        name = name.removesuffix(".git")
        if not _REPO_NAME.fullmatch(name) or ".." in name:
            raise ValueError(f"bad repository name {name!r}: use letters, digits, '.', '_', '-' and '/'")
        return name

    def create_repo(self, name: str, *, default_branch: str = "main") -> BareRepo:
        """A new empty bare repository, readable and pushable over both transports."""
        name = self._normalize(name)
        path = self.repos_dir / f"{name}.git"
        if path.exists():
            raise FileExistsError(f"repository {name!r} exists already")
        path.parent.mkdir(parents=True, exist_ok=True)
        _run_git("init", "-q", "--bare", f"--initial-branch={default_branch}", str(path))
        for key, value in (
            ("http.receivepack", "true"),  # pushes over HTTP (http-backend also wants REMOTE_USER)
            ("uploadpack.allowAnySHA1InWant", "true"),  # fetching a commit by SHA, as CD tools do
            ("uploadpack.allowFilter", "true"),
            ("receive.denyNonFastForwards", "false"),
        ):
            _run_git("-C", str(path), "config", key, value)
        return BareRepo(self, name, path)

    def repo(self, name: str) -> BareRepo:
        name = self._normalize(name)
        path = self.repos_dir / f"{name}.git"
        if not path.is_dir():
            raise FileNotFoundError(f"no repository {name!r}")
        return BareRepo(self, name, path)

    def rev_parse(self, repo_name: str, ref: str) -> str:
        """The commit a ref (branch, tag, SHA) names in the served repository."""
        return _run_git(
            "-C", str(self.repo(repo_name).path), "rev-parse", "--verify", f"{ref}^{{commit}}"
        ).strip()

    def commit_directory(
        self,
        repo_name: str,
        source_dir: Path,
        message: str,
        *,
        branch: str = "main",
        tag: str | None = None,
        annotated_tag: bool = False,
    ) -> str:
        """Make the files under ``source_dir`` the whole tree of a new commit on ``branch``.

        Files missing from ``source_dir`` are deleted; empty directories and ``.git`` directories are
        not committed. The branch is created if needed; a commit is made even when nothing changed.
        ``tag`` (lightweight unless ``annotated_tag``) must not exist yet. Returns the full SHA.
        """
        source = Path(source_dir)
        if not source.is_dir():
            raise NotADirectoryError(source)

        def populate(work: Path) -> None:
            shutil.copytree(
                source, work, symlinks=True, dirs_exist_ok=True, ignore=shutil.ignore_patterns(".git")
            )

        return self._commit(repo_name, populate, message, branch, tag, annotated_tag, replace=True)

    def commit_files(
        self,
        repo_name: str,
        files: Mapping[str, str | bytes],
        message: str,
        *,
        branch: str = "main",
        tag: str | None = None,
        annotated_tag: bool = False,
        replace: bool = False,
    ) -> str:
        """Commit ``{relative path: content}`` on ``branch``; other files stay unless ``replace``."""

        def populate(work: Path) -> None:
            for relative, content in files.items():
                target = (work / relative).resolve()
                if work.resolve() not in target.parents:
                    raise ValueError(f"path {relative!r} leaves the repository")
                target.parent.mkdir(parents=True, exist_ok=True)
                if isinstance(content, bytes):
                    target.write_bytes(content)
                else:
                    target.write_text(content)

        return self._commit(repo_name, populate, message, branch, tag, annotated_tag, replace=replace)

    def _commit(
        self,
        repo_name: str,
        populate: Callable[[Path], None],
        message: str,
        branch: str,
        tag: str | None,
        annotated_tag: bool,
        *,
        replace: bool,
    ) -> str:
        bare = self.repo(repo_name).path
        identity = ["-c", f"user.name={COMMITTER_NAME}", "-c", f"user.email={COMMITTER_EMAIL}"]
        identity += ["-c", "commit.gpgsign=false", "-c", "tag.gpgsign=false"]
        with self._commit_lock, tempfile.TemporaryDirectory(dir=self._scratch_dir) as scratch:
            work = Path(scratch) / "work"
            has_branch = (
                subprocess.run(
                    [GIT, "-C", str(bare), "rev-parse", "--verify", "-q", f"refs/heads/{branch}"],
                    env=isolated_git_env(),
                    capture_output=True,
                    check=False,
                ).returncode
                == 0
            )
            if has_branch:
                _run_git("clone", "-q", "--no-tags", "--single-branch", "-b", branch, str(bare), str(work))
            else:
                _run_git("init", "-q", f"--initial-branch={branch}", str(work))
            if replace:
                for child in work.iterdir():
                    if child.name == ".git":
                        continue
                    if child.is_dir() and not child.is_symlink():
                        shutil.rmtree(child)
                    else:
                        child.unlink()
            populate(work)
            _run_git("add", "-A", cwd=work)
            _run_git(*identity, "commit", "-q", "--allow-empty", "--no-verify", "-m", message, cwd=work)
            refspecs = [f"HEAD:refs/heads/{branch}"]
            if tag is not None:
                tag_args = ["-a", "-m", message] if annotated_tag else []
                _run_git(*identity, "tag", *tag_args, tag, cwd=work)
                refspecs.append(f"refs/tags/{tag}:refs/tags/{tag}")
            _run_git("push", "-q", "--atomic", str(bare), *refspecs, cwd=work)
            return _run_git("rev-parse", "HEAD", cwd=work).strip()


# --------------------------------------------------------------------------------------------------
# Fixtures
# --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="session", autouse=True)
def _no_git_server_left_running() -> Iterator[None]:
    """At session end, stop any GitServer a test started and never stopped, and report it as an error."""
    yield
    with _RUNNING_LOCK:
        leftovers = list(_RUNNING)
    for server in leftovers:
        server.stop()
    if leftovers:
        pytest.fail(f"GitServer(s) never stopped: {', '.join(str(s.base_dir) for s in leftovers)}")


@pytest.fixture(scope="session")
def git_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GitServer]:
    """Smart HTTP (Basic auth) and SSH Git servers on loopback, shared by the whole session."""
    with GitServer(tmp_path_factory.mktemp("git-server")) as server:
        yield server


@pytest.fixture
def git_repo(git_server: GitServer, request: pytest.FixtureRequest) -> BareRepo:
    """A fresh, empty bare repository on ``git_server`` named after the test."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", request.node.name).strip("-.")[:60] or "repo"
    return git_server.create_repo(f"{stem}-{uuid.uuid4().hex[:8]}")
