"""A real browser against a cloud served over HTTP: Playwright driving Debian's Chromium.

Playwright cannot download its browsers here, so it launches ``/usr/bin/chromium`` (the
``chromium`` package, which ``.ci/run`` installs when missing) through ``executable_path``;
``playwright install`` is never run. The cloud runs in this process under uvicorn on a free
port, with the demo data and a fake clock; every test that takes ``page`` leaves a screenshot
of its last view in its own tmp dir.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from berth.cloud.app import build_service, create_app
from berth.cloud.seed import seed_demo
from berth.kit.clock import FakeClock
from tests.cloud.conftest import Cloud, local_webhooks
from tests.support.configs import cloud_config
from tests.support.waiting import SERVER_START, wait_until

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
TABLET = {"width": 1024, "height": 768}
WAIT_MS = 30_000  # Playwright's expect bound: generous, the machine may be busy


class LiveCloud(Cloud):
    """The demo cloud over HTTP (``url``), stopped by ``stop()``."""

    url: str
    server: uvicorn.Server
    thread: threading.Thread

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(SERVER_START)
        self.http.close()


@pytest.fixture
def live_cloud(sqlite_url: str, tmp_path: Path, free_port: Callable[[], int]
               ) -> Iterator[LiveCloud]:
    """The demo cloud under uvicorn; its outbox dispatcher and webhook worker run quickly."""
    clock = FakeClock()
    clock.now = clock.now.replace(year=2030)
    config = cloud_config(sqlite_url, tmp_path / "data", clock=clock,
                          webhooks=local_webhooks(0.05),
                          sweep_interval=0, outbox_dispatch_interval=0.05,
                          access_token_ttl=10**8)
    service = build_service(config)
    seed = seed_demo(service)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(config, service), host="127.0.0.1",
                                           port=port, log_level="warning", lifespan="on",
                                           timeout_graceful_shutdown=2))
    thread = threading.Thread(target=server.run, name="live-cloud", daemon=True)
    thread.start()
    wait_until(lambda: server.started or not thread.is_alive(), "the cloud never started",
               SERVER_START)
    assert server.started, "the cloud failed to start"
    url = f"http://127.0.0.1:{port}"
    cloud = LiveCloud(httpx.Client(base_url=url, timeout=60), service, clock,  # type: ignore[arg-type]
                      seed)
    cloud.url, cloud.server, cloud.thread = url, server, thread
    yield cloud
    cloud.stop()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One headless Chromium per test process; skipped only off CI when the package is absent."""
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
def page(browser: Any, tmp_path: Path) -> Iterator[Any]:
    """A fresh tablet-sized page (own cookies); its last view is saved as ``last.png``."""
    context = browser.new_context(viewport=TABLET)
    context.set_default_timeout(WAIT_MS)
    tab = context.new_page()
    yield tab
    try:
        tab.screenshot(path=str(tmp_path / "last.png"), full_page=True)
    finally:
        context.close()
