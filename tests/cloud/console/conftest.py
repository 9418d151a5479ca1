"""A real browser against a cloud served over HTTP: Playwright driving Debian's Chromium.

Playwright cannot download its browsers here, so it launches ``/usr/bin/chromium`` (the
``chromium`` package, which ``.ci/run`` installs when missing) through ``executable_path``;
``playwright install`` is never run. The cloud runs in this process under uvicorn on a free
port, with the demo data and a fake clock; the browser and its pages are the shared ones of
``tests/support/browser.py`` (one Chromium per module, a screenshot of each test's last view).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn

from berth.cloud.app import build_service, create_app
from berth.cloud.seed import seed_demo
from berth.kit.clock import FakeClock
from tests.cloud.conftest import Cloud, local_webhooks
from tests.support.browser import WAIT_MS, browser, page
from tests.support.configs import cloud_config
from tests.support.waiting import SERVER_START, wait_until

__all__ = ["WAIT_MS", "browser", "page"]  # the browser fixtures of tests/support/browser.py


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
