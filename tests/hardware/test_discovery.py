"""Discovery: a simulator announced by mDNS is found; a serial bus scan lists answering boards."""

from __future__ import annotations

from berth.hardware.discovery import scan_bus, scan_mdns
from berth.hardware.simulator import SimulatedBus
from tests.hardware.sim_helpers import run


def test_mdns_announced_simulator_is_found_with_its_properties() -> None:
    async def scenario() -> None:
        async with SimulatedBus.start(protocol="dip", boards=2, transport="tcp",
                                      advertise=True) as sim:
            found = await scan_mdns(1.0, interfaces=["127.0.0.1"])
            mine = [f for f in found if f.url == sim.url]
            assert len(mine) == 1
            assert (mine[0].protocol, mine[0].boards, mine[0].channels) == ("dip", "1-2", 16)

    run(scenario())


def test_serial_bus_scan_lists_the_addresses_that_answer() -> None:
    async def scenario() -> None:
        async with SimulatedBus.start(protocol="kerong", boards=3, first_address=2) as sim:
            sim.inject("silent", board=3)
            assert await scan_bus(sim.url, "kerong", range(6), timeout=0.05) == [2, 4]

    run(scenario())
