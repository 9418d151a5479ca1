"""outcomes: dwell windows per location, a parcel's collection deadline, drop-off tokens
reported expired unused, and when each tower was last seen (offline / back)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("locations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("dropoff_window_s", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("collection_window_s", sa.Integer(), nullable=True))
    with op.batch_alter_table("lockers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("collect_by", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("overdue_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index("ix_lockers_collect_by", ["collect_by"], unique=False,
                              sqlite_where=sa.text("overdue_at IS NULL"),
                              postgresql_where=sa.text("overdue_at IS NULL"))
    with op.batch_alter_table("locker_tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("expired_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "tower_liveness",
        sa.Column("tower_id", sa.String(length=16), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("offline_since", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["tower_id"], ["towers.id"]),
        sa.PrimaryKeyConstraint("tower_id"),
    )
    with op.batch_alter_table("tower_liveness", schema=None) as batch_op:
        batch_op.create_index("ix_tower_liveness_seen", ["last_seen_at"], unique=False,
                              sqlite_where=sa.text("offline_since IS NULL"),
                              postgresql_where=sa.text("offline_since IS NULL"))


def downgrade() -> None:
    with op.batch_alter_table("tower_liveness", schema=None) as batch_op:
        batch_op.drop_index("ix_tower_liveness_seen")
    op.drop_table("tower_liveness")
    with op.batch_alter_table("locker_tokens", schema=None) as batch_op:
        batch_op.drop_column("expired_at")
    with op.batch_alter_table("lockers", schema=None) as batch_op:
        batch_op.drop_index("ix_lockers_collect_by")
        batch_op.drop_column("overdue_at")
        batch_op.drop_column("collect_by")
    with op.batch_alter_table("locations", schema=None) as batch_op:
        batch_op.drop_column("collection_window_s")
        batch_op.drop_column("dropoff_window_s")
