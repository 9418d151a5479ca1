"""fleet_site_towers: the tower a fleet site serves, for its cloud link over the broker

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "fleet_site_towers",
        sa.Column("site_id", sa.String(63), sa.ForeignKey("fleet_sites.site_id"),
                  primary_key=True),
        sa.Column("tower_id", sa.String(16), sa.ForeignKey("towers.id"), nullable=False,
                  unique=True),
        sa.Column("partner_id", sa.Integer(), sa.ForeignKey("partners.id"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("fleet_site_towers")
