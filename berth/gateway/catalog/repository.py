"""The site's static rows: synced from the site file at start, then read for the catalog."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select, text, update

from berth.gateway import tables as t
from berth.gateway.site import Site
from berth.gateway.system.repository import write_log
from berth.kit.clock import Clock
from berth.storage.engine import Database

_SITE_SYNC_LOCK = 0x62657274687379  # any constant shared by all gateway processes


class CatalogRepository:
    def __init__(self, db: Database, site: Site, clock: Clock) -> None:
        self.db = db
        self.site = site
        self.clock = clock

    def sync_site(self) -> None:
        """Upsert the site's static rows; dynamic flags of existing lockers are kept."""
        now = self.clock()
        site = self.site
        with self.db.write() as conn:
            if not self.db.sqlite:  # several processes may start at once; upserts must not race
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _SITE_SYNC_LOCK})
            for type_id, lt in site.locker_types:
                _upsert(conn, t.locker_types, {"id": type_id}, {
                    "slug": lt.slug, "name": lt.name, "width_in": lt.width,
                    "height_in": lt.height, "depth_in": lt.depth}, {"created_at": now})
            for bt_id, bt in site.bank_types:
                _upsert(conn, t.bank_types, {"id": bt_id}, {
                    "key": bt.key, "friendly_name": bt.friendly_name,
                    "description": bt.description, "is_debug": bt.is_debug},
                    {"created_at": now})
                for number, slot in bt.associations.items():
                    _upsert(conn, t.bank_type_associations,
                            {"bank_type_id": bt_id, "bank_locker_number": number},
                            {"locker_type_id": site.type_ids[slot.type]}, {})
            for bank_id, bank in site.banks:
                ctl = bank.controller
                _upsert(conn, t.controllers, {"id": ctl.id}, {
                    "protocol": ctl.protocol, "url": ctl.url, "address": ctl.address,
                    "channels": ctl.channels}, {"online": True, "updated_at": now})
                _upsert(conn, t.banks, {"id": bank_id}, {
                    "name": bank.name, "bank_type_id": site.bank_type_ids[bank.bank_type],
                    "controller_id": ctl.id}, {})
            for lk in site.lockers:
                _upsert(conn, t.lockers, {"id": lk.id}, {
                    "bank_id": lk.bank_id, "bank_locker_number": lk.bank_locker_number,
                    "locker_type_id": lk.type_id, "controller_id": lk.controller_id,
                    "channel": lk.channel, "attributes": ",".join(lk.attributes),
                    "attr_mask": lk.attr_mask}, {
                    "held": False, "out_of_service": False, "operational": True,
                    "door_open": False, "updated_at": now})
            stale = conn.execute(
                update(t.lockers).where(t.lockers.c.id > len(site.lockers),
                                        t.lockers.c.out_of_service.is_(False))
                .values(out_of_service=True, service_reason_code="NOT_IN_SITE",
                        service_reason="Locker is not part of the current site file",
                        updated_at=now)).rowcount
            write_log(conn, now, "info", "SITE_LOADED",
                      f"Site {site.name!r} loaded: {len(site.lockers)} lockers",
                      details={"lockers": len(site.lockers), "removedLockers": stale})

    def lockers_per_type(self) -> dict[int, int]:
        lk = t.lockers
        with self.db.read() as conn:
            return dict(conn.execute(select(lk.c.locker_type_id, func.count())
                                     .group_by(lk.c.locker_type_id)).all())

    def created_at(self, table: Any, row_id: int) -> datetime | None:
        with self.db.read() as conn:
            value = conn.execute(select(table.c.created_at).where(table.c.id == row_id)).scalar()
        return t.as_utc(value)


def _upsert(conn: Connection, table: Any, key: dict, values: dict, defaults: dict) -> None:
    where = [table.c[k] == v for k, v in key.items()]
    if not conn.execute(update(table).where(*where).values(**values)).rowcount:
        conn.execute(insert(table).values(**key, **values, **defaults))
