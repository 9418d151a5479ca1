"""A gateway in its own process whose doors never finish opening: the "killed mid-open" fault.

    python -m tests.support.fleet_gateway DB_URL BROKER_URL SITE PASSWORD PORT

Runs the real app (uvicorn, lifespan, fleet link) on the demo site with gated simulated boards
whose gate never opens, so a fleet request to open a door is mid-execution until the process is
killed.
"""

from __future__ import annotations

import sys
import threading

import uvicorn

from berth.fleet.client import Credentials, LinkConfig
from berth.gateway.app import create_app
from berth.gateway.site import load_site
from tests.gateway.conftest import make_config
from tests.support.fleet import gated


def main(db_url: str, broker_url: str, site_id: str, password: str, port: int) -> None:
    site = load_site()
    link = LinkConfig(broker_url, Credentials(site_id, password), keepalive=3,
                      reconnect_max=0.3, request_ttl=60)
    config = make_config(db_url, site, controllers=gated(site, threading.Event()), fleet=link,
                         fleet_site_id=site_id, port=port)
    uvicorn.run(create_app(config), host="127.0.0.1", port=port, log_level="warning")


if __name__ == "__main__":
    main(*sys.argv[1:5], int(sys.argv[5]))
