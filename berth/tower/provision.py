"""Make a gateway a cloud tower, gateway side: the lockers a running gateway offers.

The cloud side (creating the tower and its keys) is ``berth.cloud.provision``; a site file's
lockers come from ``berth.gateway.site.site_lockers``.
"""

from __future__ import annotations

from berth.sdk.gateway import GatewayClient
from berth.tower.identity import GatewayLocker

__all__ = ["GatewayLocker", "gateway_lockers"]


def gateway_lockers(url: str, api_key: str) -> list[GatewayLocker]:
    """A running gateway's lockers, read through its API."""
    with GatewayClient(url, api_key) as gateway:
        types = {t.locker_type_id: t for t in gateway.list_locker_types()}
        found: list[GatewayLocker] = []
        while page := gateway.list_lockers(limit=1000, offset=len(found)):
            for lk in page:
                kind = types[lk.locker_type.locker_type_id]
                found.append(GatewayLocker(lk.locker_id, kind.slug, tuple(lk.attributes),
                                           (kind.width_inches, kind.height_inches,
                                            kind.depth_inches)))
        return found
