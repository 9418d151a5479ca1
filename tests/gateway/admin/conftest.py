"""The admin console's fixtures: a gateway over HTTP and a browser page against it."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import pytest

from berth.gateway.config import GatewayConfig
from berth.gateway.site import load_site
from berth.hardware import embedded_sim
from tests.gateway.conftest import make_config, simulated
from tests.gateway.doors.test_real_driver import POLICY, demo_site_on
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


@pytest.fixture
def sim_bus() -> Iterator[str]:
    """A fresh byte-level simulated Kerong bus (boards 0-15) for one test."""
    yield f"sim://console-{uuid.uuid4().hex[:8]}"
    embedded_sim.stop_all()


@pytest.fixture
def sim_site_server(live_gateway: Callable[[GatewayConfig], LiveServer], sqlite_url: str,
                    sim_bus: str) -> LiveServer:
    """The demo site on real Kerong drivers over ``sim_bus``, over HTTP."""
    return live_gateway(make_config(sqlite_url, demo_site_on(sim_bus, close_after=0.5),
                                    controllers=None, policy=POLICY))
