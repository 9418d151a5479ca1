"""The controllers table's reach of a board: where it is on its bus. SQL only."""

from __future__ import annotations

from sqlalchemy import update

from berth.gateway import tables as t
from berth.kit.clock import Clock
from berth.storage.engine import Database


class ControllerRepository:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    def set_reach(self, controller_id: str, url: str | None, address: int) -> None:
        with self.db.write() as conn:
            conn.execute(update(t.controllers).where(t.controllers.c.id == controller_id)
                         .values(url=url, address=address, updated_at=self.clock()))
