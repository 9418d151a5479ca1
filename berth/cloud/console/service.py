"""What the fleet console shows and does: read models across every tenant, and the few writes
an operator makes from it (partners, clients, a client revoked, a delivery sent again).

Writes go through the domain services that own them; the reads are the console's own
(``repository.py``). Nothing here returns a token's payload, its signature or a keypad code.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from berth.cloud.console import repository as repo
from berth.cloud.context import CloudContext
from berth.cloud.locations import repository as locations_repo
from berth.cloud.locations.service import location_view
from berth.cloud.lockers.service import locker_view
from berth.cloud.partners import repository as partners_repo
from berth.cloud.partners.service import PartnersService
from berth.cloud.reservations import repository as reservations_repo
from berth.cloud.webhooks import repository as webhooks_repo
from berth.cloud.webhooks.service import WebhooksService, to_delivery
from berth.contracts.cloud import Location, Locker, WebhookDelivery
from berth.domain.errors import NotFound
from berth.domain.lifecycle import LockerState
from berth.domain.tokens import TokenKind

STATES = [state.label for state in LockerState]
DELIVERY_LOG = 20  # deliveries shown per endpoint


@dataclass(frozen=True)
class PartnerView:
    id: int | None  # None: the operators' own clients
    name: str
    clients: list[dict[str, Any]]


@dataclass(frozen=True)
class TowerHealth:
    id: str
    name: str
    location: str | None
    partners: list[str]
    last_seen_at: datetime | None
    offline_since: datetime | None
    last_seq: int | None
    last_type: str | None
    last_event_at: datetime | None  # when the tower wrote its newest event
    lag_s: float | None  # how long that event took to reach the cloud
    events: int
    refused: int
    commands_waiting: int


@dataclass(frozen=True)
class FleetLockers:
    by_state: dict[str, int]
    by_tower: dict[str, dict[str, int]]
    lockers: list[Locker]  # those of the state asked for (all when none)


@dataclass(frozen=True)
class EndpointLog:
    id: str
    partner: str
    url: str
    enabled: bool
    disabled_reason: str | None
    deliveries: list[WebhookDelivery]


@dataclass
class ParcelLife:
    """Everything the cloud knows of one locker's parcel, each part in time order."""

    query: str
    locker: Locker
    tower_name: str
    since: datetime | None
    reservations: list[dict[str, Any]] = field(default_factory=list)
    tokens: list[dict[str, Any]] = field(default_factory=list)
    tower_events: list[dict[str, Any]] = field(default_factory=list)
    state_changes: list[dict[str, Any]] = field(default_factory=list)
    partner_events: list[dict[str, Any]] = field(default_factory=list)
    deliveries: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class ConsoleService:
    ctx: CloudContext
    partners: PartnersService
    webhooks: WebhooksService

    # ---- partners and clients --------------------------------------------------------------

    def partners_and_clients(self) -> list[PartnerView]:
        with self.ctx.db.read() as conn:
            partners = partners_repo.all_partners(conn)
            clients = repo.all_clients(conn)
        views = [PartnerView(None, "Operators", [dict(c) for c in clients
                                                 if c["partner_id"] is None])]
        for p in partners:
            views.append(PartnerView(p["id"], p["name"],
                                     [dict(c) for c in clients if c["partner_id"] == p["id"]]))
        return views

    def new_client(self, partner_id: int) -> Any:
        """Fresh credentials for a partner (the secret is shown once, by the caller)."""
        with self.ctx.db.read() as conn:
            row = partners_repo.partner(conn, partner_id)
        if row is None:
            raise NotFound("PARTNER_NOT_FOUND", f"No partner {partner_id}.")
        return self.partners.create_client(row["name"])

    def revoke_client(self, client_id: str) -> None:
        """The client is removed: its access tokens are refused once each cloud process's client
        cache has let it go (``ClientCache.ttl``, 5 s), its console session at once."""
        with self.ctx.write() as conn:
            if repo.delete_client(conn, client_id) == 0:
                raise NotFound("CLIENT_NOT_FOUND", f"No client {client_id!r}.")

    # ---- towers, locations, lockers --------------------------------------------------------

    def locations(self) -> list[Location]:
        with self.ctx.db.read() as conn:
            return [location_view(r) for r in locations_repo.all_locations(conn)]

    def towers(self) -> list[TowerHealth]:
        with self.ctx.db.read() as conn:
            rows = repo.sync_health(conn)
            places = repo.tower_places(conn)
            names = {loc["id"]: loc["name"] for loc in locations_repo.all_locations(conn)}
            partners = {r["id"]: partners_repo.names_of_tower(conn, r["id"]) for r in rows}
        out = []
        for r in rows:
            written = (datetime.fromtimestamp(r["last_timestamp"], self.ctx.clock().tzinfo)
                       if r["last_timestamp"] is not None else None)
            lag = ((r["last_received_at"] - written).total_seconds()
                   if written is not None and r["last_received_at"] is not None else None)
            place = places.get(r["id"])
            out.append(TowerHealth(
                id=r["id"], name=r["name"], location=names.get(place) if place else None,
                partners=partners[r["id"]], last_seen_at=r["last_seen_at"],
                offline_since=r["offline_since"], last_seq=r["last_seq"],
                last_type=r["last_type"], last_event_at=written,
                lag_s=max(lag, 0.0) if lag is not None else None, events=r["events"] or 0,
                refused=r["refused"] or 0, commands_waiting=r["waiting"] or 0))
        return out

    def lockers(self, state: str | None = None) -> FleetLockers:
        now = self.ctx.clock()
        with self.ctx.db.read() as conn:
            views = [locker_view(r, now) for r in repo.all_lockers(conn)]
        by_state = Counter(v.status.name for v in views)
        by_tower: dict[str, dict[str, int]] = {}
        for v in views:
            counts = by_tower.setdefault(v.towerId, dict.fromkeys(STATES, 0))
            counts[v.status.name] += 1
        return FleetLockers({s: by_state.get(s, 0) for s in STATES}, by_tower,
                            [v for v in views if state in (None, v.status.name)])

    # ---- webhooks --------------------------------------------------------------------------

    def endpoints(self) -> list[EndpointLog]:
        with self.ctx.db.read() as conn:
            names = {p["id"]: p["name"] for p in partners_repo.all_partners(conn)}
            return [EndpointLog(e["id"], names.get(e["partner_id"], "?"), e["url"], e["enabled"],
                                e["disabled_reason"],
                                [to_delivery(d) for d in webhooks_repo.endpoint_deliveries(
                                    conn, e["id"], DELIVERY_LOG)])
                    for e in repo.all_endpoints(conn)]

    def redeliver(self, endpoint_id: str, delivery_id: int) -> WebhookDelivery:
        """Send one delivery again, whichever partner's endpoint it is."""
        with self.ctx.db.read() as conn:
            row = webhooks_repo.endpoint(conn, None, endpoint_id)
        if row is None:
            raise NotFound("WEBHOOK_NOT_FOUND", f"No webhook endpoint {endpoint_id!r}.")
        return self.webhooks.redeliver(row["partner_id"], endpoint_id, delivery_id)

    # ---- a parcel's life -------------------------------------------------------------------

    def parcel(self, query: str) -> ParcelLife:
        """The life of the parcel a locker id, a reservation id or a token id names: for a
        locker, all it went through; for a reservation or a token, from that parcel on."""
        q = query.strip()
        now = self.ctx.clock()
        with self.ctx.db.read() as conn:
            locker_id, since = self._resolve(conn, q)
            row = repo.locker(conn, locker_id) if locker_id is not None else None
            if row is None or locker_id is None:
                raise NotFound("PARCEL_NOT_FOUND", f"No locker, reservation or token {q!r}.")
            names = {p["id"]: p["name"] for p in partners_repo.all_partners(conn)}
            tokens = repo.locker_tokens_issued(conn, locker_id, since)
            life = ParcelLife(q, locker_view(row, now), row["tower_id"], since)
            life.reservations = [dict(r, partner=names.get(r["partner_id"]))
                                 for r in repo.locker_reservations(conn, locker_id, since)]
            life.tokens = [dict(t, partner=names.get(t["partner_id"]),
                                kind_name=TokenKind(t["kind"]).label) for t in tokens]
            life.tower_events = [dict(e, written_at=datetime.fromtimestamp(e["timestamp"],
                                                                           now.tzinfo))
                                 for e in repo.locker_tower_events(
                                     conn, locker_id, [t["id"] for t in tokens], since)]
            told = repo.locker_partner_events(conn, locker_id, since)
            life.deliveries = [dict(d, partner=names.get(d["partner_id"]))
                               for d in repo.locker_deliveries(conn, locker_id, since)]
        seen: set[tuple[Any, str]] = set()
        for e in told:
            data = json.loads(e["data"])
            entry = dict(e, data=data, partner=names.get(e["partner_id"]))
            if e["type"] == "locker.state_changed":
                key = (e["occurred_at"], e["data"])
                if key not in seen:  # one row per partner told: the change happened once
                    seen.add(key)
                    life.state_changes.append(entry)
            else:
                life.partner_events.append(entry)
        return life

    @staticmethod
    def _resolve(conn: Any, q: str) -> tuple[int | None, datetime | None]:
        """(locker id, from when) of a search: a number is a locker, else a reservation id,
        else a token id (from the parcel's reservation, else from the token)."""
        if q.isdigit() and len(q) < 10:
            return int(q), None
        reservation = reservations_repo.reservation(conn, q)
        if reservation is not None:
            return int(reservation["locker_id"]), reservation["created_at"]
        token = repo.token_locker(conn, q)
        if token is None:
            return None, None
        locker_id, issued = int(token["locker_id"]), token["not_before"]
        # the parcel began with its reservation, else with its drop-off token
        starts = [r["created_at"] for r in repo.locker_reservations(conn, locker_id, None)]
        starts += [t["not_before"] for t in repo.locker_tokens_issued(conn, locker_id, None)
                   if t["kind"] == TokenKind.DROPOFF]
        return locker_id, max((s for s in starts if s <= issued), default=issued)
