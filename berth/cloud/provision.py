"""Make a gateway a cloud tower, cloud side: one cloud locker per gateway locker, keys for both.

The lockers come from the gateway side (``berth.gateway.site.site_lockers`` for a site file;
``berth cloud towers provision --gateway URL`` reads a running gateway's through the SDK); what
comes back is the ``TowerIdentity`` the gateway loads.
"""

from __future__ import annotations

from collections.abc import Sequence

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import select

from berth.cloud import store
from berth.cloud.schemas import Dimensions, LockerCreate
from berth.cloud.service import CloudService
from berth.cloud.tables import partners, tower_partners
from berth.tower.identity import CloudLink, GatewayLocker, TowerIdentity

CLOUD_TYPES = ("small", "medium", "large", "xlarge")
MM_PER_INCH = 25.4


def _locker_create(locker: GatewayLocker) -> LockerCreate:
    width, height, depth = (round(v * MM_PER_INCH) for v in locker.inches or (0, 0, 0))
    return LockerCreate(
        name=str(locker.locker_id),
        type=locker.type_slug if locker.type_slug in CLOUD_TYPES else "medium",  # type: ignore[arg-type]
        isLowLocker="low" in locker.attributes,
        dimensions=Dimensions(width=width or None, height=height or None, depth=depth or None),
    )


def provision_tower(service: CloudService, partner: str, name: str,
                    lockers: Sequence[GatewayLocker], cloud_url: str | None = None,
                    tower_id: str | None = None) -> TowerIdentity:
    """Create the tower for ``partner`` and return everything the gateway must hold.

    With ``cloud_url`` the identity also carries a fresh client of the partner, so the gateway
    can sync by itself (``tower_access`` scope).
    """
    if not lockers:
        raise ValueError("a tower needs at least one locker")
    tower = service.create_tower(name, tower_id)
    created = service.add_lockers(tower.id, [_locker_create(lk) for lk in lockers])
    service.assign_tower(tower.id, service.partner_id(partner))
    by_name = {lk.name: lk.id for lk in created}
    link = cloud_link(service, tower.id, cloud_url, partner) if cloud_url else None
    return _identity(service, tower.id,
                     {by_name[str(lk.locker_id)]: lk.locker_id for lk in lockers}, link)


def existing_tower(service: CloudService, tower_id: str, cloud_url: str | None = None,
                   partner: str | None = None) -> TowerIdentity:
    """An existing tower's identity rebuilt from the cloud, for a gateway that lost or never had
    its keys; provisioning named each cloud locker after its gateway locker id."""
    tower_id = tower_id.lower()
    with service.db.read() as conn:
        rows = store.tower_lockers(conn, tower_id)
    mapping: dict[int, int] = {}
    for row in rows:
        if not str(row["name"]).isdigit():
            raise ValueError(f"tower {tower_id}: locker {row['id']} is named {row['name']!r}, "
                             "not after a gateway locker id; it was not provisioned for a gateway")
        mapping[int(row["id"])] = int(row["name"])
    link = cloud_link(service, tower_id, cloud_url, partner) if cloud_url else None
    return _identity(service, tower_id, mapping, link)


def cloud_link(service: CloudService, tower_id: str, cloud_url: str,
               partner: str | None = None) -> CloudLink:
    """A fresh client of the tower's partner, so its gateway can sync by itself.

    ``partner`` is needed only when several partners share the tower.
    """
    with service.db.read() as conn:
        names = list(conn.execute(
            select(partners.c.name).join(tower_partners,
                                         tower_partners.c.partner_id == partners.c.id)
            .where(tower_partners.c.tower_id == tower_id.lower())
            .order_by(partners.c.name)).scalars())
    if partner is None:
        if len(names) != 1:
            raise ValueError(f"tower {tower_id} is assigned to "
                             f"{', '.join(names) or 'no partner'}: name one with --partner")
        partner = names[0]
    elif partner not in names:
        raise ValueError(f"tower {tower_id} is not assigned to partner {partner!r}")
    client = service.create_client(partner)
    return CloudLink(cloud_url, client.client_id, client.client_secret)


def _identity(service: CloudService, tower_id: str, gateway_ids: dict[int, int],
              link: CloudLink | None) -> TowerIdentity:
    keys = service.provisioning(tower_id)
    return TowerIdentity(
        tower_id=keys.tower_id,
        private_key=Ed25519PrivateKey.from_private_bytes(bytes.fromhex(keys.tower_private_key)),
        cloud_keys={kid: Ed25519PublicKey.from_public_bytes(bytes.fromhex(pub))
                    for kid, pub in keys.cloud_public_keys.items()},
        lockers={cid: (gid, keys.generations[cid]) for cid, gid in gateway_ids.items()},
        cloud=link,
    )
