"""Announcing a TCP controller (or our simulator) on the LAN by mDNS.

Kept apart from ``discovery`` (which builds controllers to probe a bus) so the simulator can
announce itself without importing the controller factory that starts simulators.
"""

from __future__ import annotations

import socket
import uuid
from collections.abc import Awaitable, Callable

from zeroconf.asyncio import AsyncServiceInfo, AsyncZeroconf

SERVICE_TYPE = "_berth-lockboard._tcp.local."
Closer = Callable[[], Awaitable[None]]


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
