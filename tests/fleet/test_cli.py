"""`berth fleet`: an organisation and its key, the broker's files, a site bound to a location
whose written credentials really log in to a broker started on those files."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from berth.cli.main import app
from berth.fleet import protocol as p
from berth.fleet.client import Credentials
from tests.cloud import test_cli_and_keys as cli_tests
from tests.support.broker import MosquittoBroker, have_mosquitto
from tests.support.fleet import MqttProbe

env = cli_tests.env  # BERTH_DATA_DIR in a temporary directory, settings re-read


def _ok(*args: str) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_an_organisation_binds_a_site_whose_credentials_reach_the_broker(env: Path) -> None:
    if not have_mosquitto():
        pytest.skip("mosquitto not installed")
    broker_dir = env / "broker"
    key = _ok("fleet", "orgs", "create", "acme").strip()
    assert re.fullmatch(r"bfk_[0-9a-f]{12}_[A-Za-z0-9_-]{43}", key)
    assert _ok("fleet", "orgs", "add-key", "acme").strip() != key
    location = _ok("cloud", "locations", "create", "Depot", "--lat", "52.5", "--lon", "13.4",
                   "--timezone", "Europe/Berlin").split()[-1]
    broker = MosquittoBroker(broker_dir)  # only for its free port and process handling
    _ok("fleet", "broker", "--broker-dir", str(broker_dir), "--port", str(broker.port),
        "--cloud-credentials", str(env / "cloud-broker.json"))
    _ok("fleet", "bind", "acme", location, "depot-1", "--broker-dir", str(broker_dir),
        "--credentials", str(env / "gateway-broker.json"))
    for secret in (env / "gateway-broker.json", env / "cloud-broker.json",
                   broker_dir / "passwd"):
        assert secret.stat().st_mode & 0o777 == 0o600
    assert key not in json.dumps(_ok("fleet", "sites"))
    listing = _ok("fleet", "sites", "--org", "acme")
    assert "depot-1" in listing and "offline" in listing

    again = CliRunner().invoke(app, ["fleet", "bind", "acme", location, "depot-2",
                                     "--broker-dir", str(broker_dir), "--credentials",
                                     str(env / "other.json")])
    assert again.exit_code == 1 and "SITE_ALREADY_BOUND" in again.output

    site = Credentials.load(env / "gateway-broker.json")
    cloud = Credentials.load(env / "cloud-broker.json")
    broker.start()
    try:
        probe = MqttProbe(broker, site.username, site.password)
        assert probe.accepted
        probe.close()
        operator = MqttProbe(broker, cloud.username, cloud.password)
        assert operator.accepted and cloud.username == p.CLOUD_USER
        operator.close()
    finally:
        broker.stop()
    assert len((broker_dir / "passwd").read_text().splitlines()) == 2  # cloud and depot-1


def test_a_site_is_bound_to_the_tower_its_gateway_serves(env: Path) -> None:
    """`bind --tower` (or `berth fleet tower` later) names the tower whose cloud link rides the
    site's connection, and whose partner its events count under."""
    if not have_mosquitto():
        pytest.skip("mosquitto not installed")
    tower = json.loads(_ok("cloud", "seed", "--demo", "--json"))["tower_id"]
    _ok("fleet", "orgs", "create", "acme")
    location = _ok("cloud", "locations", "create", "Depot", "--lat", "52.5", "--lon", "13.4",
                   "--timezone", "Europe/Berlin").split()[-1]
    broker_dir = env / "broker"
    _ok("fleet", "broker", "--broker-dir", str(broker_dir), "--cloud-credentials",
        str(env / "cloud-broker.json"))
    bound = _ok("fleet", "bind", "acme", location, "depot-1", "--broker-dir", str(broker_dir),
                "--credentials", str(env / "gw.json"), "--tower", tower.upper(),
                "--tower-partner", "demo")
    assert f"site depot-1 serves tower {tower}" in bound and "partner demo" in bound
    assert "serves tower" in _ok("fleet", "tower", "depot-1", tower, "--partner", "demo")
    for args, code in ((["depot-9", tower], "SITE_NOT_FOUND"),
                       (["depot-1", "ffff000000000000"], "TOWER_NOT_FOUND"),
                       (["depot-1", tower, "--partner", "nobody"], "PARTNER_NOT_ASSIGNED")):
        refused = CliRunner().invoke(app, ["fleet", "tower", *args])
        assert refused.exit_code == 1 and code in refused.output, refused.output
