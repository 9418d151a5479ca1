"""`berth up --fleet`'s preparation: the broker's files and both ends' credentials, an
organisation whose location is bound to the demo site, the site to the demo tower; a second
start reuses them."""

from __future__ import annotations

from pathlib import Path

import pytest

from berth.cloud.app import build_service
from berth.cloud.config import CloudConfig
from berth.fleet.client import Credentials
from berth.fleet.protocol import CLOUD_USER, TowerCall
from berth.stack import FLEET_SITE, FleetStack, prepare, prepare_fleet
from tests.support.broker import have_mosquitto
from tests.support.configs import isolated_settings


def test_prepare_fleet_once_then_reuse(tmp_path: Path) -> None:
    if not have_mosquitto():
        pytest.skip("mosquitto not installed")
    settings = isolated_settings(data_dir=tmp_path)
    fleet = FleetStack(tmp_path / "fleet", 18830)
    tower_id = prepare(settings, "http://127.0.0.1:1", "http://127.0.0.1:2").tower_id
    key, location_id = prepare_fleet(settings, fleet, tower_id)
    again_key, again_location = prepare_fleet(settings, fleet, tower_id)
    assert again_location == location_id and again_key != key
    assert Credentials.load(fleet.cloud_credentials).username == CLOUD_USER
    assert Credentials.load(fleet.gateway_credentials).username == FLEET_SITE
    assert len((fleet.root / "broker" / "passwd").read_text().splitlines()) == 2
    assert fleet.env()["BERTH_FLEET_BROKER_URL"] == "mqtt://127.0.0.1:18830"
    service = build_service(CloudConfig.from_settings(settings))
    try:
        assert service.fleet.authenticate(key).organisation_id == \
            service.fleet.authenticate(again_key).organisation_id
        (site,) = service.fleet.list_sites()
        assert (site.site_id, site.location_id) == (FLEET_SITE, location_id)
        # the demo tower's cloud link is taken from the demo site
        fetch = TowerCall("c", "commands", tower_id)
        assert service.fleet.tower_call(FLEET_SITE, fetch).code is None
    finally:
        service.db.dispose()
