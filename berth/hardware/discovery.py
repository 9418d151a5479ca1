"""Finding controllers: mDNS for TCP boards and bridges, address probing for a serial bus.

Network controllers (and our simulator, when asked) announce ``_berth-lockboard._tcp.local.`` with
TXT properties ``protocol``, ``boards`` (first..last address) and ``channels``. On a serial bus
nothing announces itself, so ``scan_bus`` asks each address for its status with a short timeout.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from zeroconf import ServiceStateChange
from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf

from berth.hardware.announce import SERVICE_TYPE, Closer, advertise
from berth.hardware.bus import buses
from berth.hardware.driver import CommunicationError
from berth.hardware.factory import ControllerSpec, build_controller

__all__ = ["SERVICE_TYPE", "Closer", "FoundController", "advertise", "scan_bus", "scan_mdns"]


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
                   timeout: float = 0.2,
                   probed: Callable[[int, bool], None] | None = None) -> list[int]:
    """Which board addresses on the line at ``url`` answer a status request; ``probed`` hears
    each address and whether it answered (the CLI's progress bar)."""
    sep = "&" if "?" in url else "?"
    probe_url = url if "timeout=" in url else f"{url}{sep}timeout={timeout}"
    answered = []
    await buses.acquire(probe_url)  # keep one line open for the whole scan
    try:
        for address in addresses:
            found = await _answers(protocol, probe_url, address, channels)
            if found:
                answered.append(address)
            if probed is not None:
                probed(address, found)
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

