"""fleet: organisations, their API keys, sites bound to locations, requests, rate windows

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "fleet_organisations",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(100), nullable=False, unique=True),
        sa.Column("created_at", _TIME, nullable=False),
    )
    op.create_table(
        "fleet_api_keys",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("organisation_id", sa.Integer(), sa.ForeignKey("fleet_organisations.id"),
                  nullable=False),
        sa.Column("prefix", sa.String(16), nullable=False, unique=True),
        sa.Column("secret_hash", sa.String(64), nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("revoked_at", _TIME, nullable=True),
    )
    op.create_table(
        "fleet_sites",
        sa.Column("site_id", sa.String(63), primary_key=True),
        sa.Column("organisation_id", sa.Integer(), sa.ForeignKey("fleet_organisations.id"),
                  nullable=False),
        sa.Column("location_id", sa.Integer(), sa.ForeignKey("locations.id"), nullable=False,
                  unique=True),
        sa.Column("online", sa.Boolean(), nullable=False),
        sa.Column("presence_at", _TIME, nullable=True),
        sa.Column("created_at", _TIME, nullable=False),
    )
    op.create_index("ix_fleet_sites_organisation", "fleet_sites", ["organisation_id"])
    op.create_table(
        "fleet_requests",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("organisation_id", sa.Integer(), sa.ForeignKey("fleet_organisations.id"),
                  nullable=False),
        sa.Column("site_id", sa.String(63), nullable=False),
        sa.Column("location_id", sa.Integer(), nullable=False),
        sa.Column("operation", sa.String(64), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("idempotency_key", sa.String(255), nullable=True),
        sa.Column("fingerprint", sa.String(64), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("response", sa.Text(), nullable=True),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("expires_at", _TIME, nullable=False),
        sa.Column("answered_at", _TIME, nullable=True),
    )
    op.create_index("ux_fleet_requests_idempotency", "fleet_requests",
                    ["organisation_id", "idempotency_key"], unique=True)
    op.create_index("ix_fleet_requests_pending", "fleet_requests", ["site_id", "state"])
    op.create_table(
        "fleet_rate_windows",
        sa.Column("key_id", sa.Integer(), sa.ForeignKey("fleet_api_keys.id"), primary_key=True),
        sa.Column("window", sa.BigInteger(), primary_key=True),
        sa.Column("count", sa.Integer(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("fleet_rate_windows")
    op.drop_index("ix_fleet_requests_pending", table_name="fleet_requests")
    op.drop_index("ux_fleet_requests_idempotency", table_name="fleet_requests")
    op.drop_table("fleet_requests")
    op.drop_index("ix_fleet_sites_organisation", table_name="fleet_sites")
    op.drop_table("fleet_sites")
    op.drop_table("fleet_api_keys")
    op.drop_table("fleet_organisations")
