"""A real browser against a started gateway: Playwright driving Debian's Chromium.

Playwright cannot download its own browsers here, so it launches ``/usr/bin/chromium`` (the
``chromium`` package, which ``.ci/run`` installs when it is missing) through ``executable_path``;
``playwright install`` is never run. The gateway runs in this process under uvicorn on a free
port (its simulated controllers stay reachable from the test), and every test that takes
``page`` leaves a screenshot in ``screenshots/`` at the repository root, named after the test.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from berth.gateway.app import create_app
from berth.gateway.config import GatewayConfig
from tests.support.waiting import SERVER_START, wait_until

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "screenshots"
TABLET = {"width": 1024, "height": 768}
WAIT_MS = 30_000  # Playwright's expect/wait_for bound: generous, since the machine may be busy


class LiveServer:
    """An ASGI app served by uvicorn in a thread of this process, stopped by ``stop()``."""

    def __init__(self, app: Any, port: int) -> None:
        self.app = app
        self.url = f"http://127.0.0.1:{port}"
        self._server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                                     log_level="warning", lifespan="on",
                                                     timeout_graceful_shutdown=2))
        self._thread = threading.Thread(target=self._server.run, name="live-server",
                                        daemon=True)

    def start(self) -> LiveServer:
        self._thread.start()
        wait_until(lambda: self._server.started or not self._thread.is_alive(),
                   f"{self.url} never started", SERVER_START)
        assert self._server.started, f"{self.url} failed to start"
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(SERVER_START)


def screenshot(page: Any, name: str) -> Path:
    """Save what the page shows now as ``screenshots/<name>.png`` (full page)."""
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / f"{re.sub(r'[^A-Za-z0-9_.-]+', '_', name)}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless Chromium per test module; skipped only off CI when the package is absent.

    Per module, not per session: while Playwright's sync API runs, its event loop counts as
    running in the main thread, and other tests' ``asyncio.run`` would refuse to start."""
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: .ci/run installs Debian's chromium")
        pytest.skip(f"{CHROMIUM} is missing: apt-get install -y chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                              args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def live_gateway(free_port: Callable[[], int]) -> Iterator[Callable[[GatewayConfig], LiveServer]]:
    """Start gateways from configs (lifespan included) over HTTP; stopped after the test."""
    servers: list[LiveServer] = []

    def start(config: GatewayConfig) -> LiveServer:
        server = LiveServer(create_app(config), free_port()).start()
        servers.append(server)
        return server

    yield start
    for server in reversed(servers):
        server.stop()


@pytest.fixture
def page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh tablet-sized page (own cookies); its last view is saved as a screenshot."""
    context = browser.new_context(viewport=TABLET)
    context.set_default_timeout(WAIT_MS)
    tab = context.new_page()
    yield tab
    try:
        screenshot(tab, request.node.name)
    finally:
        context.close()
