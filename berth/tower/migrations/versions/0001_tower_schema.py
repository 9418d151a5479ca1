"""tower schema: lockers with generations, signed event log, state counters, applied commands

Revision ID: t0001
Revises:
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "t0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "tower_lockers",
        sa.Column("locker_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("gateway_locker_id", sa.Integer(), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("occupied", sa.Boolean(), nullable=False),
        sa.Column("pending_kind", sa.Integer(), nullable=True),
        sa.Column("pending_token_id", sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint("locker_id"),
        sa.UniqueConstraint("gateway_locker_id"),
    )
    op.create_table(
        "tower_events",
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("type", sa.String(length=40), nullable=False),
        sa.Column("locker_id", sa.Integer(), nullable=True),
        sa.Column("timestamp", sa.Integer(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("seq"),
    )
    op.create_table(
        "tower_state",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("value", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "tower_commands",
        sa.Column("command_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("applied_at", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("command_id"),
    )


def downgrade() -> None:
    op.drop_table("tower_commands")
    op.drop_table("tower_state")
    op.drop_table("tower_events")
    op.drop_table("tower_lockers")
