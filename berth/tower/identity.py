"""What provisioning hands a tower: its id and private key, the cloud's public keys, its lockers.

Stored in a directory (``--tower-keys DIR``): ``tower.json`` (public facts, and the cloud
client's secret once linked) and ``tower.key`` (the tower's private Ed25519 key, hex); both mode
0600, written whole or not at all. The tower never holds a cloud private key.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from berth.kit.secret_files import write_private

IDENTITY_FILE = "tower.json"
KEY_FILE = "tower.key"


@dataclass(frozen=True)
class CloudLink:
    """How the gateway reaches the cloud by itself: a ``tower_access`` client of the partner."""

    url: str
    client_id: str
    client_secret: str


@dataclass(frozen=True)
class GatewayLocker:
    """What provisioning needs of a gateway locker (from ``GET /lockers`` and ``/locker-types``)."""

    locker_id: int
    type_slug: str
    attributes: tuple[str, ...] = ()
    inches: tuple[float, float, float] | None = None  # width, height, depth


@dataclass(frozen=True)
class TowerIdentity:
    tower_id: str
    private_key: Ed25519PrivateKey
    cloud_keys: dict[str, Ed25519PublicKey]
    #: cloud locker id -> (gateway locker id, generation at provisioning)
    lockers: dict[int, tuple[int, int]] = field(default_factory=dict)
    cloud: CloudLink | None = None

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        facts = {
            "tower_id": self.tower_id,
            "tower_public_key": self.private_key.public_key().public_bytes_raw().hex(),
            "cloud_public_keys": {
                k: v.public_bytes_raw().hex() for k, v in self.cloud_keys.items()
            },
            "lockers": [
                {"locker_id": cid, "gateway_locker_id": gid, "generation": gen}
                for cid, (gid, gen) in sorted(self.lockers.items())
            ],
            "cloud": self.cloud.__dict__ if self.cloud else None,
        }
        # the key first: a directory with tower.json holds a whole identity (stack.py checks it)
        write_private(directory / KEY_FILE, self.private_key.private_bytes_raw().hex(),
                      replace=True)
        # 0600 as well: it holds the cloud client's secret once linked
        write_private(directory / IDENTITY_FILE, json.dumps(facts, indent=2), replace=True)

    @classmethod
    def load(cls, directory: Path) -> TowerIdentity:
        try:
            facts = json.loads((directory / IDENTITY_FILE).read_text())
            private = bytes.fromhex((directory / KEY_FILE).read_text().strip())
            return cls(
                tower_id=str(facts["tower_id"]).lower(),
                private_key=Ed25519PrivateKey.from_private_bytes(private),
                cloud_keys={
                    kid: Ed25519PublicKey.from_public_bytes(bytes.fromhex(hexkey))
                    for kid, hexkey in facts["cloud_public_keys"].items()
                },
                lockers={
                    int(entry["locker_id"]): (int(entry["gateway_locker_id"]),
                                              int(entry.get("generation", 0)))
                    for entry in facts.get("lockers", [])
                },
                cloud=CloudLink(**facts["cloud"]) if facts.get("cloud") else None,
            )
        except (OSError, KeyError, ValueError, TypeError) as exc:
            raise ValueError(f"cannot load tower keys from {directory}: {exc}") from exc
