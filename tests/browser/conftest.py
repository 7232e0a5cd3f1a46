"""Browser-test fixtures: Debian's chromium driven by Playwright, and the real API server (uvicorn in a
thread on a free 127.0.0.1 port) with the built web UI mounted.

Playwright's own browser downloads are never used (no ``playwright install``): the tests launch
``/usr/bin/chromium`` (``chromium`` in scripts/lib.sh APT_PACKAGES) with ``--no-sandbox``.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from playwright.sync_api import sync_playwright

from argosy.api import ApiDeps, create_app
from argosy.ui import mount_ui, ui_built

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / ".artifacts" / "screenshots"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class ServerThread:
    """Runs ``setup`` (an async context manager factory yielding ApiDeps) and uvicorn in one event loop
    on a background thread, so the API's async clients live in the loop that serves them."""

    def __init__(self, setup: Callable[[], contextlib.AbstractAsyncContextManager[ApiDeps]]) -> None:
        self.setup = setup
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server: uvicorn.Server | None = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="argosy-ui-server", daemon=True)

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # reported by start() / stop()
            self.error = exc

    async def _main(self) -> None:
        async with self.setup() as deps:
            app = create_app(deps)
            mount_ui(app)
            config = uvicorn.Config(
                app, host="127.0.0.1", port=self.port, log_level="warning", ws="none", lifespan="on"
            )
            self.server = uvicorn.Server(config)
            await self.server.serve()

    def start(self, timeout: float = 120.0) -> None:
        self.thread.start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.error is not None:
                raise RuntimeError(f"the API server failed to start: {self.error!r}") from self.error
            if self.server is not None and self.server.started:
                return
            time.sleep(0.05)
        raise RuntimeError("the API server did not start in time")

    def stop(self) -> None:
        if self.server is not None:
            self.server.should_exit = True
        self.thread.join(timeout=30)


@contextlib.contextmanager
def serving(setup: Callable[[], contextlib.AbstractAsyncContextManager[ApiDeps]]) -> Iterator[ServerThread]:
    server = ServerThread(setup)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="package")
def chromium() -> Iterator[Any]:
    # Package scope, not session: Playwright's sync API keeps an asyncio loop running in the main
    # thread while it is open, which would break every later test that calls anyio.run/asyncio.run.
    if not CHROMIUM.exists():
        pytest.fail("Debian's chromium is missing: run scripts/lib.sh setup (APT_PACKAGES has chromium)")
    if not ui_built():
        pytest.fail(
            "the web UI is not built: run `npm ci && npm run build` in ui/ (scripts/lib.sh ensure_ui)"
        )

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            yield browser
        finally:
            browser.close()


def screenshot(page: Any, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=False)
    return path


def login(page: Any, base: str, username: str, password: str) -> None:
    page.goto(f"{base}/applications")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_test_id("who").wait_for()


@contextlib.asynccontextmanager
async def no_setup(deps: ApiDeps) -> AsyncIterator[ApiDeps]:
    yield deps
