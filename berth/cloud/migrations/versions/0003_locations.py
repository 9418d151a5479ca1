"""locations: where towers stand, searchable by an index on (latitude, longitude); lockers get
an optional load limit for the fit check

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "locations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("latitude", sa.Float(), nullable=False),
        sa.Column("longitude", sa.Float(), nullable=False),
        sa.Column("street", sa.String(length=200), nullable=False),
        sa.Column("postal_code", sa.String(length=20), nullable=False),
        sa.Column("city", sa.String(length=100), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("opening_hours", sa.Text(), nullable=True),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("locations", schema=None) as batch_op:
        batch_op.create_index("ix_locations_lat_lon", ["latitude", "longitude"], unique=False)
    op.create_table(
        "location_towers",
        sa.Column("tower_id", sa.String(length=16), nullable=False),
        sa.Column("location_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["location_id"], ["locations.id"]),
        sa.ForeignKeyConstraint(["tower_id"], ["towers.id"]),
        sa.PrimaryKeyConstraint("tower_id"),
    )
    with op.batch_alter_table("location_towers", schema=None) as batch_op:
        batch_op.create_index("ix_location_towers_location", ["location_id"], unique=False)
    with op.batch_alter_table("lockers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("max_weight_g", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("lockers", schema=None) as batch_op:
        batch_op.drop_column("max_weight_g")
    with op.batch_alter_table("location_towers", schema=None) as batch_op:
        batch_op.drop_index("ix_location_towers_location")
    op.drop_table("location_towers")
    with op.batch_alter_table("locations", schema=None) as batch_op:
        batch_op.drop_index("ix_locations_lat_lon")
    op.drop_table("locations")
