"""The admin console's fixtures: a gateway over HTTP and a browser page against it."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from berth.gateway.config import GatewayConfig
from berth.gateway.site import load_site
from tests.gateway.conftest import make_config, simulated
from tests.support.browser import LiveServer, browser, live_gateway, page

__all__ = ["browser", "live_gateway", "page"]  # fixtures shared from tests/support/browser.py
TECHNICIAN_KEY = "technician-key-0123"


@pytest.fixture
def site_server(live_gateway: Callable[[GatewayConfig], LiveServer], sqlite_url: str
                ) -> LiveServer:
    """The demo site's gateway over HTTP; its simulated doors close 2 s after they open (long
    enough to see a door open in a browser, short enough to watch it close)."""
    site = load_site()
    return live_gateway(make_config(sqlite_url, site, controllers=simulated(site, 2.0),
                                    technician_key=TECHNICIAN_KEY))
