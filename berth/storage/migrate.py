"""Run a service's Alembic migrations to head, safely when several processes start at once."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import text

from berth.storage.engine import Database

_PG_MIGRATION_LOCK = 0x6265727468  # "berth": any constant shared by all processes


def alembic_config(script_location: Path, db: Database) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(script_location))
    cfg.set_main_option("sqlalchemy.url", db.url.replace("%", "%%"))
    return cfg


def upgrade(db: Database, script_location: Path, version_table: str = "alembic_version",
            revision: str = "head") -> None:
    """Migrate to head; SQLite serialises via BEGIN IMMEDIATE, PostgreSQL via an advisory lock.

    ``revision`` stops earlier: the schema-fixture generator builds databases of old versions."""
    cfg = alembic_config(script_location, db)
    cfg.attributes["version_table"] = version_table  # lets two services share one database
    with db.write() as conn:
        if not db.sqlite:
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_MIGRATION_LOCK})
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
