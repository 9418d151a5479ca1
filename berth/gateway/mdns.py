"""Advertise the gateway on the LAN as ``_berth-gateway._tcp`` so clients find it by mDNS."""

from __future__ import annotations

import socket

import ifaddr
from zeroconf import ServiceInfo
from zeroconf.asyncio import AsyncZeroconf

from berth import __version__

SERVICE_TYPE = "_berth-gateway._tcp.local."


def lan_addresses() -> list[str]:
    """IPv4 addresses of this host, loopback excluded."""
    found = []
    for adapter in ifaddr.get_adapters():
        for ip in adapter.ips:
            if isinstance(ip.ip, str) and not ip.ip.startswith("127."):
                found.append(ip.ip)
    return found or ["127.0.0.1"]


def build_service_info(port: int, addresses: list[str] | None = None,
                       hostname: str | None = None, site: str = "") -> ServiceInfo:
    hostname = (hostname or socket.gethostname()).split(".")[0]
    return ServiceInfo(
        SERVICE_TYPE,
        f"Berth Gateway {hostname}.{SERVICE_TYPE}",
        addresses=[socket.inet_aton(a) for a in (addresses or lan_addresses())],
        port=port,
        properties={"version": __version__, "path": "/", "site": site[:100],
                    "auth": "x-api-key"},
        server=f"{hostname}.local.",
    )


class MdnsAdvertiser:
    def __init__(self, info: ServiceInfo) -> None:
        self.info = info
        self._zc: AsyncZeroconf | None = None

    async def start(self) -> None:
        self._zc = AsyncZeroconf()
        await self._zc.async_register_service(self.info, allow_name_change=True)

    async def aclose(self) -> None:
        if self._zc is not None:
            await self._zc.async_unregister_service(self.info)
            await self._zc.async_close()
            self._zc = None
