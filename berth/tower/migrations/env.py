"""Alembic environment of the tower tables: the shared runner on the tower's metadata."""

from berth.storage.alembic_env import run_migrations
from berth.tower.tables import metadata

run_migrations(metadata)
