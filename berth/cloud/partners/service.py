"""Partners and their API clients; operator clients too (no partner, scope ``operator``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from berth.cloud.auth import credentials
from berth.cloud.auth import repository as clients_repo
from berth.cloud.context import CloudContext
from berth.cloud.partners import repository as repo
from berth.cloud.partners.schemas import ClientCredentials, Partner
from berth.domain.errors import Conflict, NotFound

Fresh = tuple[str, str, str]  # client id, secret, the secret's hash


@dataclass
class PartnersService:
    ctx: CloudContext

    def create_partner(self, name: str) -> ClientCredentials:
        """A partner and its first client; the secret is shown only in this answer."""
        now, fresh = self.ctx.clock(), self._fresh_credentials()
        try:
            with self.ctx.write() as conn:
                pid = repo.insert_partner(conn, name, now)
                return self._new_client(conn, fresh, pid, name, credentials.PARTNER_SCOPES, now)
        except IntegrityError as exc:
            raise Conflict("PARTNER_EXISTS", f"A partner named {name!r} exists.") from exc

    def create_operator(self, name: str = "operator") -> ClientCredentials:
        fresh = self._fresh_credentials()
        with self.ctx.write() as conn:
            return self._new_client(conn, fresh, None, name, [credentials.OPERATOR],
                                    self.ctx.clock())

    def create_client(self, partner_name: str) -> ClientCredentials:
        """Another client (fresh credentials) for an existing partner."""
        pid, fresh = self.partner_id(partner_name), self._fresh_credentials()
        with self.ctx.write() as conn:
            return self._new_client(conn, fresh, pid, partner_name, credentials.PARTNER_SCOPES,
                                    self.ctx.clock())

    def list_partners(self) -> list[Partner]:
        with self.ctx.db.read() as conn:
            return [Partner(id=r["id"], name=r["name"]) for r in repo.all_partners(conn)]

    def partner_id(self, name: str) -> int:
        with self.ctx.db.read() as conn:
            row = repo.partner_by_name(conn, name)
        if row is None:
            raise NotFound("PARTNER_NOT_FOUND", f"No partner named {name!r}.")
        return int(row["id"])

    def _fresh_credentials(self) -> Fresh:
        """A new client id, secret and the secret's hash, made before any write transaction
        begins: waiting for a hashing slot must never hold the database's write lock."""
        client_id, secret = credentials.new_client_credentials()
        return client_id, secret, self.ctx.hasher.hash(secret)

    @staticmethod
    def _new_client(conn: Connection, fresh: Fresh, partner_id: int | None, name: str,
                    scopes: Sequence[str], now: datetime) -> ClientCredentials:
        client_id, secret, secret_hash = fresh
        clients_repo.insert_client(conn, client_id, partner_id, secret_hash, scopes, now)
        return ClientCredentials(partner_id=partner_id, name=name, client_id=client_id,
                                 client_secret=secret, scopes=list(scopes))
