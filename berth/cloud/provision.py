"""Make a gateway a cloud tower, cloud side: one cloud locker per gateway locker, keys for both.

The lockers come from the gateway side (``berth.gateway.site.site_lockers`` for a site file;
``berth cloud towers provision --gateway URL`` reads a running gateway's through the SDK); what
comes back is the ``TowerIdentity`` the gateway loads.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from berth.cloud.lockers.schemas import LockerCreate
from berth.cloud.services import CloudServices
from berth.contracts.cloud import Dimensions
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


PROVISION_STEPS = 4  # how many times ``provision_tower`` calls its ``step``


def provision_tower(cloud: CloudServices, partner: str, name: str,
                    lockers: Sequence[GatewayLocker], cloud_url: str | None = None,
                    tower_id: str | None = None,
                    step: Callable[[str], None] = lambda _done: None) -> TowerIdentity:
    """Create the tower for ``partner`` and return everything the gateway must hold.

    With ``cloud_url`` the identity also carries a fresh client of the partner, so the gateway
    can sync by itself (``tower_access`` scope). ``step`` hears each part when it is done.
    """
    if not lockers:
        raise ValueError("a tower needs at least one locker")
    tower = cloud.towers.create_tower(name, tower_id)
    step("tower and its keys")
    created = cloud.lockers.add_lockers(tower.id, [_locker_create(lk) for lk in lockers])
    step(f"{len(created)} lockers")
    cloud.towers.assign_tower(tower.id, cloud.partners.partner_id(partner))
    step(f"assigned to {partner}")
    by_name = {lk.name: lk.id for lk in created}
    link = cloud_link(cloud, tower.id, cloud_url, partner) if cloud_url else None
    step("cloud link" if link else "offline")
    return _identity(cloud, tower.id,
                     {by_name[str(lk.locker_id)]: lk.locker_id for lk in lockers}, link)


def existing_tower(cloud: CloudServices, tower_id: str, cloud_url: str | None = None,
                   partner: str | None = None) -> TowerIdentity:
    """An existing tower's identity rebuilt from the cloud, for a gateway that lost or never had
    its keys; provisioning named each cloud locker after its gateway locker id."""
    tower_id = tower_id.lower()
    mapping: dict[int, int] = {}
    for locker in cloud.lockers.tower_lockers(tower_id):
        if not locker.name.isdigit():
            raise ValueError(f"tower {tower_id}: locker {locker.id} is named {locker.name!r}, "
                             "not after a gateway locker id; it was not provisioned for a gateway")
        mapping[locker.id] = int(locker.name)
    link = cloud_link(cloud, tower_id, cloud_url, partner) if cloud_url else None
    return _identity(cloud, tower_id, mapping, link)


def cloud_link(cloud: CloudServices, tower_id: str, cloud_url: str,
               partner: str | None = None) -> CloudLink:
    """A fresh client of the tower's partner, so its gateway can sync by itself.

    ``partner`` is needed only when several partners share the tower.
    """
    names = cloud.towers.partner_names(tower_id)
    if partner is None:
        if len(names) != 1:
            raise ValueError(f"tower {tower_id} is assigned to "
                             f"{', '.join(names) or 'no partner'}: name one with --partner")
        partner = names[0]
    elif partner not in names:
        raise ValueError(f"tower {tower_id} is not assigned to partner {partner!r}")
    client = cloud.partners.create_client(partner)
    return CloudLink(cloud_url, client.client_id, client.client_secret)


def _identity(cloud: CloudServices, tower_id: str, gateway_ids: dict[int, int],
              link: CloudLink | None) -> TowerIdentity:
    keys = cloud.towers.provisioning(tower_id)
    return TowerIdentity(
        tower_id=keys.tower_id,
        private_key=Ed25519PrivateKey.from_private_bytes(bytes.fromhex(keys.tower_private_key)),
        cloud_keys={kid: Ed25519PublicKey.from_public_bytes(bytes.fromhex(pub))
                    for kid, pub in keys.cloud_public_keys.items()},
        lockers={cid: (gid, keys.generations[cid]) for cid, gid in gateway_ids.items()},
        cloud=link,
    )
