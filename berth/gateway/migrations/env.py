"""Alembic environment of the gateway: the shared runner on the gateway's metadata."""

from berth.gateway.tables import metadata
from berth.storage.alembic_env import run_migrations

run_migrations(metadata)
