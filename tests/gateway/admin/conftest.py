"""The admin console's fixtures: a gateway over HTTP and a browser page against it."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from berth.gateway.config import GatewayConfig
from tests.gateway.conftest import make_config
from tests.support.browser import LiveServer, browser, live_gateway, page

__all__ = ["browser", "live_gateway", "page"]  # fixtures shared from tests/support/browser.py


@pytest.fixture
def site_url(live_gateway: Callable[[GatewayConfig], LiveServer], sqlite_url: str) -> str:
    """The demo site's gateway (simulated boards whose doors close by themselves) over HTTP."""
    return live_gateway(make_config(sqlite_url)).url
