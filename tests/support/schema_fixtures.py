"""The migration trees, where their per-revision fixture databases live, and the schema check.

Shared by the generator (``tests/support/make_schema_fixtures.py``) and the upgrade tests
(``tests/storage/test_migration_fixtures.py``), so both agree on names and places.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, MetaData

import berth

FIXTURES = Path(__file__).resolve().parent.parent / "storage" / "fixtures"
GENERATE = ".venv/bin/python -m tests.support.make_schema_fixtures"
_BERTH = Path(berth.__file__).resolve().parent


@dataclass(frozen=True)
class Tree:
    """One Alembic migration tree: its folder, version table and the tables it must produce."""

    name: str
    migrations: Path
    version_table: str
    tables_module: str

    def metadata(self) -> MetaData:
        meta: MetaData = importlib.import_module(self.tables_module).metadata
        return meta

    def revisions(self) -> list[str]:
        """Every revision in the folder, oldest first: a new migration is picked up by itself."""
        cfg = Config()
        cfg.set_main_option("script_location", str(self.migrations))
        script = ScriptDirectory.from_config(cfg)
        return [rev.revision for rev in reversed(list(script.walk_revisions()))]

    def fixture(self, revision: str, engine: str) -> Path:
        """``<tree>/<revision>.sqlite`` (a database file) or ``.sql`` (a PostgreSQL dump)."""
        return FIXTURES / self.name / f"{revision}.{'sqlite' if engine == 'sqlite' else 'sql'}"


# The tower's tables live in the gateway's database under their own version table.
TREES = (
    Tree("gateway", _BERTH / "gateway" / "migrations", "alembic_version", "berth.gateway.tables"),
    Tree("cloud", _BERTH / "cloud" / "migrations", "alembic_version", "berth.cloud.tables"),
    Tree("tower", _BERTH / "tower" / "migrations", "alembic_version_tower", "berth.tower.tables"),
)
ENGINES = ("sqlite", "postgres")


def schema_drift(conn: Connection, metadata: MetaData,
                 version_table: str = "alembic_version") -> list[Any]:
    """What the migrated database lacks or has beyond ``metadata``: [] when migrations and
    tables agree (the same check every service's own tests run on a fresh database)."""
    context = MigrationContext.configure(conn, opts={"version_table": version_table})
    return list(compare_metadata(context, metadata))


def load_postgres_dump(dump: Path, url: str) -> None:
    """Run a plain ``pg_dump`` file into an empty database; psql meta-commands (``\\restrict``
    in newer dumps) are dropped since psycopg runs SQL only."""
    sql = "\n".join(line for line in dump.read_text().splitlines() if not line.startswith("\\"))
    with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute(sql.encode())
