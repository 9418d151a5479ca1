"""Alembic environment of the cloud service: the shared runner on the cloud's metadata."""

from berth.cloud.tables import metadata
from berth.storage.alembic_env import run_migrations

run_migrations(metadata)
