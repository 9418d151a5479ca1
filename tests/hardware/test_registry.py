"""The protocol registry: one entry per board protocol, used by every part that names one."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from berth.cli.main import app
from berth.gateway.site import SiteError, load_site
from berth.hardware import registry
from berth.hardware.boards import KerongController
from berth.hardware.factory import ControllerSpec, build_controller
from berth.hardware.opening import open_door
from berth.hardware.protocols import dip, kerong
from berth.hardware.simulator import SimulatedBus
from berth.hardware.transports import SerialTransport, open_transport
from tests.hardware.sim_helpers import FAST, run, with_options

SITE = {
    "locker_types": [{"slug": "s", "name": "S", "width": 10, "height": 10, "depth": 10}],
    "bank_types": [{"key": "b", "friendly_name": "B", "associations": {1: "s"}}],
    "banks": [{"name": "A", "bank_type": "b",
               "controller": {"id": "c1", "protocol": "modbus", "url": "tcp://h:1"}}],
}


def test_site_file_naming_an_unknown_protocol_is_refused_listing_the_known_ones(
        tmp_path: Path) -> None:
    path = tmp_path / "site.yaml"
    path.write_text(yaml.safe_dump(SITE))
    with pytest.raises(SiteError) as info:
        load_site(path)
    message = str(info.value)
    assert "banks.0.controller.protocol" in message
    assert "unknown lock-controller protocol 'modbus' (known: simulated, kerong, dip)" in message


def test_the_factory_the_simulator_and_the_cli_refuse_an_unknown_protocol() -> None:
    with pytest.raises(registry.UnknownProtocol, match="known: simulated, kerong, dip"):
        build_controller(ControllerSpec("x", "modbus", "tcp://h:1"))
    with pytest.raises(registry.UnknownProtocol):
        SimulatedBus(protocol="modbus")
    result = CliRunner().invoke(app, ["hw", "status", "tcp://127.0.0.1:9", "0",
                                      "--protocol", "modbus"], env={"COLUMNS": "200"})
    assert result.exit_code == 2
    assert "unknown board protocol 'modbus' (one of kerong, dip)" in result.output


@pytest.fixture
def clone() -> Iterator[registry.BoardProtocol]:
    """Kerong's parts registered under a new name, as a third protocol would be."""
    entry = registry.register(replace(registry.get("kerong"), name="kerong-clone"))
    try:
        yield entry
    finally:
        del registry._protocols["kerong-clone"]


def test_a_registered_protocol_is_simulated_built_and_accepted_by_name_alone(
        clone: registry.BoardProtocol, tmp_path: Path) -> None:
    async def scenario() -> None:
        async with SimulatedBus.start(protocol="kerong-clone", close_after=None) as sim:
            [spec] = sim.controller_specs()
            controller = build_controller(replace(spec, url=with_options(spec.url or "",
                                                                         timeout=0.5)))
            assert isinstance(controller, KerongController)
            await controller.start()
            try:
                assert (await open_door(controller, 3, FAST)).success
            finally:
                await controller.aclose()

    run(scenario())
    site = dict(SITE, banks=[{"name": "A", "bank_type": "b", "controller": {
        "id": "c1", "protocol": "kerong-clone", "url": "tcp://h:1"}}])
    path = tmp_path / "site.yaml"
    path.write_text(yaml.safe_dump(site))
    assert load_site(path).controllers[0].protocol == "kerong-clone"
    with pytest.raises(ValueError, match="already registered"):
        registry.register(clone)


def test_a_serial_line_takes_its_protocols_settings_unless_the_url_says_otherwise() -> None:
    dip_line = open_transport("serial:///dev/ttyUSB0", dip.LINE)
    kerong_line = open_transport("serial:///dev/ttyUSB0", kerong.LINE)
    forced = open_transport("serial:///dev/ttyUSB0?baud=19200", dip.LINE)
    assert isinstance(dip_line, SerialTransport) and dip_line.line.baud == 9600
    assert isinstance(kerong_line, SerialTransport) and kerong_line.line.baud == 19200
    assert isinstance(forced, SerialTransport) and forced.line.baud == 19200
    assert (forced.line.bytesize, forced.line.parity, forced.line.stopbits) == (8, "N", 1)


def test_berth_hw_protocols_lists_every_registered_protocol(
        clone: registry.BoardProtocol) -> None:
    result = CliRunner().invoke(app, ["hw", "protocols"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    rows = {line.split("│")[1].strip(): line for line in result.output.splitlines()
            if line.startswith("│")}
    assert set(rows) == {"kerong", "dip", "kerong-clone"}
    assert "19200 8N1" in rows["kerong"] and "9600 8N1" in rows["dip"]
    assert "1-16" in rows["dip"] and "0-15" in rows["kerong"]
