"""Towers: a partner sees only the towers assigned to it (anything else is 404); operators
create towers, assign them and fetch a tower's keys for installing it."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Connection, RowMapping
from sqlalchemy.exc import IntegrityError

from berth.cloud.context import CloudContext
from berth.cloud.keys import raw_private, raw_public
from berth.cloud.lockers import repository as lockers_repo
from berth.cloud.partners import repository as partners_repo
from berth.cloud.towers import repository as repo
from berth.cloud.towers.schemas import TowerProvisioning
from berth.contracts.cloud import Tower
from berth.domain.errors import Conflict, NotFound


def visible_tower(conn: Connection, partner_id: int | None, tower_id: str) -> None:
    """404 unless the tower is assigned to the partner: others' towers do not exist for it."""
    if partner_id is None or not repo.tower_assigned(conn, partner_id, tower_id.lower()):
        raise NotFound("TOWER_NOT_FOUND", f"No tower {tower_id} for you.")


def tower_row(conn: Connection, tower_id: str) -> RowMapping:
    """The tower's row, or 404 (operators: every tower exists for them)."""
    row = repo.tower(conn, tower_id)
    if row is None:
        raise NotFound("TOWER_NOT_FOUND", f"No tower {tower_id}.")
    return row


@dataclass
class TowersService:
    ctx: CloudContext

    def list_towers(self, partner_id: int) -> list[Tower]:
        with self.ctx.db.read() as conn:
            return [Tower(**r) for r in repo.partner_towers(conn, partner_id)]

    def get_tower(self, partner_id: int, tower_id: str) -> Tower:
        with self.ctx.db.read() as conn:
            visible_tower(conn, partner_id, tower_id)
            row = tower_row(conn, tower_id)
        return Tower(id=row["id"], name=row["name"], created_at=row["created_at"])

    def all_towers(self) -> list[Tower]:
        with self.ctx.db.read() as conn:
            return [Tower(**r) for r in repo.all_towers(conn)]

    def create_tower(self, name: str, tower_id: str | None = None) -> Tower:
        """A tower with its own Ed25519 key pair; the private half is sealed in the vault."""
        tid = (tower_id or secrets.token_hex(8)).lower()
        key = Ed25519PrivateKey.generate()
        now = self.ctx.clock()
        try:
            with self.ctx.write() as conn:
                repo.insert_tower(conn, tid, name, raw_public(key.public_key()),
                                  self.ctx.vault.seal(raw_private(key), tid.encode()), now)
        except IntegrityError as exc:
            raise Conflict("TOWER_EXISTS", f"Tower {tid} exists.") from exc
        return Tower(id=tid, name=name, created_at=now)

    def assign_tower(self, tower_id: str, partner_id: int, assigned: bool = True) -> None:
        with self.ctx.write() as conn:
            tower_row(conn, tower_id)
            if partners_repo.partner(conn, partner_id) is None:
                raise NotFound("PARTNER_NOT_FOUND", f"No partner {partner_id}.")
            repo.set_assignment(conn, tower_id, partner_id, assigned)

    def partner_names(self, tower_id: str) -> list[str]:
        """Who the tower is assigned to (names, sorted)."""
        with self.ctx.db.read() as conn:
            return partners_repo.names_of_tower(conn, tower_id.lower())

    def provisioning(self, tower_id: str) -> TowerProvisioning:
        """The tower's own private key and the cloud's public keys: for installers only."""
        with self.ctx.db.read() as conn:
            row = tower_row(conn, tower_id)
            gens = {r["id"]: r["generation"] for r in lockers_repo.tower_lockers(conn, tower_id)}
        private = self.ctx.vault.open(row["private_key_sealed"], tower_id.encode())
        return TowerProvisioning(
            tower_id=tower_id,
            tower_private_key=private.hex(),
            tower_public_key=row["public_key"].hex(),
            cloud_public_keys=self.ctx.keyring.public_keys_hex(),
            generations=gens,
        )
