"""Finding controllers: mDNS for TCP boards and bridges, address probing for a serial bus.

Network controllers (and our simulator, when asked) announce ``_berth-lockboard._tcp.local.`` with
TXT properties ``protocol``, ``boards`` (first..last address) and ``channels``. On a serial bus
nothing announces itself, so ``scan_bus`` asks each address for its status with a short timeout.
"""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from zeroconf import ServiceStateChange
from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf

from berth.hardware.bus import buses
from berth.hardware.driver import CommunicationError
from berth.hardware.factory import ControllerSpec, build_controller

if TYPE_CHECKING:
    from berth.hardware.simulator import SimulatedBus

SERVICE_TYPE = "_berth-lockboard._tcp.local."
Closer = Callable[[], Awaitable[None]]


@dataclass(frozen=True)
class FoundController:
    """A controller announced on the LAN."""

    name: str
    host: str
    port: int
    protocol: str
    boards: str
    channels: int

    @property
    def url(self) -> str:
        return f"tcp://{self.host}:{self.port}"


def _local_address(host: str) -> str:
    if host not in ("0.0.0.0", ""):
        return host
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("10.255.255.255", 1))
            return str(probe.getsockname()[0])
        except OSError:
            return "127.0.0.1"


async def advertise(
    port: int,
    *,
    protocol: str,
    boards: str,
    channels: int,
    host: str = "127.0.0.1",
    name: str | None = None,
    interfaces: list[str] | None = None,
) -> Closer:
    """Announce a TCP controller; returns the coroutine function that withdraws it."""
    address = _local_address(host)
    label = name or f"berth-{protocol}-{uuid.uuid4().hex[:8]}"
    info = AsyncServiceInfo(
        SERVICE_TYPE,
        f"{label}.{SERVICE_TYPE}",
        port=port,
        addresses=[socket.inet_aton(address)],
        properties={"protocol": protocol, "boards": boards, "channels": str(channels)},
        server=f"{label}.local.",
    )
    zc = AsyncZeroconf(interfaces=interfaces or [address])
    await zc.async_register_service(info)

    async def withdraw() -> None:
        await zc.async_unregister_service(info)
        await zc.async_close()

    return withdraw


async def advertise_simulator(sim: SimulatedBus, host: str, port: int) -> Closer:
    """Announce a simulator's TCP port like a network controller."""
    addresses = sorted(sim.boards)
    return await advertise(port, protocol=sim.protocol, host=host, channels=sim.channels,
                           boards=f"{addresses[0]}-{addresses[-1]}")


async def scan_mdns(timeout: float = 2.0, interfaces: list[str] | None = None
                    ) -> list[FoundController]:
    """Every controller that answers on the LAN within ``timeout`` seconds."""
    zc = AsyncZeroconf(interfaces=interfaces) if interfaces else AsyncZeroconf()
    names: set[str] = set()

    def on_change(zeroconf: Any, service_type: str, name: str,
                  state_change: ServiceStateChange) -> None:
        if state_change is not ServiceStateChange.Removed:
            names.add(name)

    browser = AsyncServiceBrowser(zc.zeroconf, SERVICE_TYPE, handlers=[on_change])
    try:
        await asyncio.sleep(timeout)
        found = []
        for name in sorted(names):
            info = AsyncServiceInfo(SERVICE_TYPE, name)
            if not await info.async_request(zc.zeroconf, 1000):
                continue
            props = {k.decode(): (v or b"").decode() for k, v in info.properties.items()}
            hosts = info.parsed_addresses()
            if not hosts or info.port is None:
                continue
            found.append(FoundController(
                name.removesuffix("." + SERVICE_TYPE), hosts[0], info.port,
                props.get("protocol", "kerong"), props.get("boards", ""),
                int(props.get("channels") or 16),
            ))
        return found
    finally:
        await browser.async_cancel()
        await zc.async_close()


async def scan_bus(url: str, protocol: str, addresses: Iterable[int], channels: int = 16,
                   timeout: float = 0.2) -> list[int]:
    """Which board addresses on the line at ``url`` answer a status request."""
    sep = "&" if "?" in url else "?"
    probe_url = url if "timeout=" in url else f"{url}{sep}timeout={timeout}"
    answered = []
    await buses.acquire(probe_url)  # keep one line open for the whole scan
    try:
        for address in addresses:
            if await _answers(protocol, probe_url, address, channels):
                answered.append(address)
    finally:
        await buses.release(probe_url)
    return answered


async def _answers(protocol: str, url: str, address: int, channels: int) -> bool:
    controller = build_controller(ControllerSpec(f"scan-{address}", protocol, url, address,
                                                 channels))
    await controller.start()
    try:
        await controller.read_doors()
        return True
    except CommunicationError:
        return False
    finally:
        await controller.aclose()

