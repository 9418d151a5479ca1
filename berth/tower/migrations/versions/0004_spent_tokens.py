"""a token is spent once the door it opened has closed: remember spent token ids

Revision ID: t0004
Revises: t0003
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "t0004"
down_revision: str | None = "t0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("tower_lockers") as batch:
        batch.add_column(sa.Column("pending_expires", sa.Integer(), nullable=True))
    op.create_table(
        "tower_spent_tokens",
        sa.Column("token_id", sa.String(length=32), primary_key=True),
        sa.Column("locker_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.Integer(), nullable=False),
        sa.Column("spent_at", sa.Integer(), nullable=False),
        sa.Column("expires", sa.Integer(), nullable=False),
    )
    op.create_index("ix_tower_spent_tokens_expires", "tower_spent_tokens", ["expires"])


def downgrade() -> None:
    op.drop_index("ix_tower_spent_tokens_expires", table_name="tower_spent_tokens")
    op.drop_table("tower_spent_tokens")
    with op.batch_alter_table("tower_lockers") as batch:
        batch.drop_column("pending_expires")
