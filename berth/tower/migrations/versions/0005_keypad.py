"""keypad codes: salted digests of pick-up codes the tower checks offline

Revision ID: t0005
Revises: t0004
Create Date: 2026-12-03

The keypad's brute-force state (wrong codes, lockout level, locked until) lives in
``tower_state`` rows written on first use, so it needs no table of its own.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "t0005"
down_revision: str | None = "t0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "tower_keypad_codes",
        sa.Column("token_id", sa.String(length=32), primary_key=True),
        sa.Column("locker_id", sa.Integer(), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("not_before", sa.Integer(), nullable=False),
        sa.Column("expires", sa.Integer(), nullable=False),
        sa.Column("digits", sa.Integer(), nullable=False),
        sa.Column("salt", sa.LargeBinary(), nullable=False),
        sa.Column("digest", sa.LargeBinary(), nullable=False),
        sa.Column("cost", sa.String(length=20), nullable=False),
    )
    op.create_index("ix_tower_keypad_codes_expires", "tower_keypad_codes", ["expires"])


def downgrade() -> None:
    op.drop_index("ix_tower_keypad_codes_expires", table_name="tower_keypad_codes")
    op.drop_table("tower_keypad_codes")
