"""The ``postgres_url`` fixture: a real PostgreSQL 15 on 127.0.0.1, one per test session.

It runs the server binaries of Debian's ``postgresql-15`` (``/usr/lib/postgresql/15/bin``, linked from
``/usr/local/bin`` in the image; package ``postgresql`` in ``scripts/lib.sh``) with ``initdb -A trust``
in a temporary directory, on a free loopback port, with the socket directory inside that directory.
PostgreSQL refuses to run as root, so when the tests run as root the data directory is given to the
``postgres`` system user (created if missing) and the server runs as that user (``Popen(user=...)``).
The server is stopped by its pid at session end and the directory removed. Without the binaries the
tests that use it are skipped with the reason.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

__all__ = ["PostgresServer", "find_postgres_bin", "postgres_url", "start_postgres"]

LOOPBACK = "127.0.0.1"
_CANDIDATES = (
    "/usr/local/bin",
    "/usr/lib/postgresql/15/bin",
    "/usr/lib/postgresql/16/bin",
    "/usr/lib/postgresql/17/bin",
)


def find_postgres_bin() -> Path | None:
    for directory in _CANDIDATES:
        d = Path(directory)
        if all((d / name).exists() for name in ("initdb", "postgres", "pg_ctl")):
            return d
    found = shutil.which("initdb")
    return Path(found).parent if found else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return int(s.getsockname()[1])


@dataclass
class PostgresServer:
    root: Path
    port: int
    process: subprocess.Popen[bytes]
    user: str = "postgres"

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://{self.user}@{LOOPBACK}:{self.port}/postgres"

    def stop(self) -> None:
        if self.process.poll() is None:
            # SIGINT = "fast shutdown" of the postmaster (our child itself, no wrapper process).
            os.kill(self.process.pid, signal.SIGINT)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        shutil.rmtree(self.root, ignore_errors=True)


def _ids(user: str | None) -> dict[str, int]:
    """Popen's ``user``/``group``: the child switches user itself, so its pid is the postmaster's."""
    if user is None:
        return {}
    entry = pwd.getpwnam(user)
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}


def _ensure_user(name: str) -> None:
    try:
        pwd.getpwnam(name)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name], check=True
        )


def start_postgres(bindir: Path) -> PostgresServer:
    run_as: str | None = None
    root = Path(tempfile.mkdtemp(prefix="argosy-pg-"))
    if os.geteuid() == 0:
        run_as = "postgres"
        _ensure_user(run_as)
        entry = pwd.getpwnam(run_as)
        os.chmod(root, 0o700)
        os.chown(root, entry.pw_uid, entry.pw_gid)
    data = root / "data"
    initdb = subprocess.run(
        [str(bindir / "initdb"), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync", "-D", str(data)],
        capture_output=True,
        check=False,
        cwd=root,
        **_ids(run_as),
    )
    if initdb.returncode != 0:
        shutil.rmtree(root, ignore_errors=True)
        raise RuntimeError(f"initdb failed: {initdb.stderr.decode(errors='replace')[-2000:]}")
    port = _free_port()
    log = root / "postgres.log"
    argv = [
        str(bindir / "postgres"),
        "-D", str(data),
        "-h", LOOPBACK,
        "-p", str(port),
        "-k", str(root),
        "-c", "fsync=off",
        "-c", "synchronous_commit=off",
        "-c", "full_page_writes=off",
    ]  # fmt: skip
    with log.open("wb") as out:
        process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, cwd=root, **_ids(run_as))
    server = PostgresServer(root, port, process)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            text = log.read_text(errors="replace")[-2000:]
            shutil.rmtree(root, ignore_errors=True)
            raise RuntimeError(f"postgres exited with {process.returncode}: {text}")
        with contextlib.suppress(OSError), socket.create_connection((LOOPBACK, port), timeout=0.5):
            # Accepting connections is not quite ready; give it a moment past the socket.
            if "ready to accept connections" in log.read_text(errors="replace"):
                return server
        time.sleep(0.1)
    server.stop()
    raise RuntimeError("postgres did not start within 30 s")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    bindir = find_postgres_bin()
    if bindir is None:
        pytest.skip("no PostgreSQL server binaries (initdb, postgres, pg_ctl): apt-get install postgresql")
    server = start_postgres(bindir)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def postgres_url(postgres_server: PostgresServer) -> str:
    return postgres_server.url
