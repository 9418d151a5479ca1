"""tower lockers remember the gateway transaction that holds them for a cloud parcel

Revision ID: t0003
Revises: t0002
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "t0003"
down_revision: str | None = "t0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("tower_lockers") as batch:
        batch.add_column(sa.Column("hold_id", sa.String(length=128), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tower_lockers") as batch:
        batch.drop_column("hold_id")
