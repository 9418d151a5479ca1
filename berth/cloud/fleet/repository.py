"""The fleet API's SQL: organisations, keys, sites, requests, rate windows. No rules."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, RowMapping, delete, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from berth.cloud.tables import (
    fleet_api_keys,
    fleet_organisations,
    fleet_rate_windows,
    fleet_requests,
    fleet_site_towers,
    fleet_sites,
)

_REQ = fleet_requests


def insert_organisation(conn: Connection, name: str, now: datetime) -> int:
    query = insert(fleet_organisations).values(name=name, created_at=now)
    return int(conn.execute(query.returning(fleet_organisations.c.id)).scalar_one())


def organisation_by_name(conn: Connection, name: str) -> RowMapping | None:
    query = select(fleet_organisations).where(fleet_organisations.c.name == name)
    return conn.execute(query).mappings().first()


def insert_key(conn: Connection, organisation_id: int, prefix: str, secret_hash: str,
               now: datetime) -> int:
    query = insert(fleet_api_keys).values(organisation_id=organisation_id, prefix=prefix,
                                          secret_hash=secret_hash, created_at=now)
    return int(conn.execute(query.returning(fleet_api_keys.c.id)).scalar_one())


def key_by_prefix(conn: Connection, prefix: str) -> RowMapping | None:
    query = select(fleet_api_keys).where(fleet_api_keys.c.prefix == prefix,
                                         fleet_api_keys.c.revoked_at.is_(None))
    return conn.execute(query).mappings().first()


def insert_site(conn: Connection, site_id: str, organisation_id: int, location_id: int,
                now: datetime) -> None:
    conn.execute(insert(fleet_sites).values(site_id=site_id, organisation_id=organisation_id,
                                            location_id=location_id, online=False,
                                            created_at=now))


def site(conn: Connection, site_id: str) -> RowMapping | None:
    return conn.execute(select(fleet_sites).where(fleet_sites.c.site_id == site_id)
                        ).mappings().first()


def site_at(conn: Connection, organisation_id: int, location_id: int) -> RowMapping | None:
    query = select(fleet_sites).where(fleet_sites.c.location_id == location_id,
                                      fleet_sites.c.organisation_id == organisation_id)
    return conn.execute(query).mappings().first()


def sites(conn: Connection, organisation_id: int | None = None) -> Sequence[RowMapping]:
    """Sites with their organisation's name (``organisation``)."""
    query = (select(fleet_sites, fleet_organisations.c.name.label("organisation"))
             .join(fleet_organisations,
                   fleet_organisations.c.id == fleet_sites.c.organisation_id)
             .order_by(fleet_sites.c.site_id))
    if organisation_id is not None:
        query = query.where(fleet_sites.c.organisation_id == organisation_id)
    return conn.execute(query).mappings().all()


def set_presence(conn: Connection, site_id: str, online: bool, now: datetime) -> None:
    conn.execute(update(fleet_sites).where(fleet_sites.c.site_id == site_id).values(
        online=online, presence_at=now))


def insert_request(conn: Connection, values: dict[str, Any]) -> None:
    conn.execute(insert(_REQ).values(**values))


def request(conn: Connection, request_id: str) -> RowMapping | None:
    return conn.execute(select(_REQ).where(_REQ.c.id == request_id)).mappings().first()


def request_by_key(conn: Connection, organisation_id: int, key: str) -> RowMapping | None:
    query = select(_REQ).where(_REQ.c.organisation_id == organisation_id,
                               _REQ.c.idempotency_key == key)
    return conn.execute(query).mappings().first()


def answer_request(conn: Connection, request_id: str, site_id: str, state: str,
                   response: str | None, now: datetime) -> bool:
    """Record the first answer of a pending request sent to ``site_id``; False otherwise."""
    result = conn.execute(update(_REQ).where(_REQ.c.id == request_id, _REQ.c.site_id == site_id,
                                             _REQ.c.state == "pending")
                          .values(state=state, response=response, answered_at=now))
    return result.rowcount > 0


def count_request(conn: Connection, key_id: int, window: int) -> int:
    """Add one to the key's count in this window and return the new count (one statement, so
    processes sharing the database never lose a count)."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(fleet_rate_windows).values(key_id=key_id, window=window, count=1)
    stmt = stmt.on_conflict_do_update(
        index_elements=["key_id", "window"],
        set_={"count": fleet_rate_windows.c.count + 1})
    return int(conn.execute(stmt.returning(fleet_rate_windows.c.count)).scalar_one())


def bind_tower(conn: Connection, site_id: str, tower_id: str, partner_id: int,
               now: datetime) -> None:
    """The site serves this tower now (replacing what it served; a tower serves one site)."""
    conn.execute(delete(fleet_site_towers).where(fleet_site_towers.c.site_id == site_id))
    conn.execute(insert(fleet_site_towers).values(site_id=site_id, tower_id=tower_id,
                                                  partner_id=partner_id, created_at=now))


def site_tower(conn: Connection, site_id: str) -> RowMapping | None:
    query = select(fleet_site_towers).where(fleet_site_towers.c.site_id == site_id)
    return conn.execute(query).mappings().first()


def tower_site(conn: Connection, tower_id: str) -> str | None:
    query = select(fleet_site_towers.c.site_id).where(fleet_site_towers.c.tower_id == tower_id)
    return conn.execute(query).scalar()
