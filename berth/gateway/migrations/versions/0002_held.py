"""a locker held by an open transaction is "held": rename lockers.occupied

"Occupied" is the cloud's lifecycle state of a locker; the gateway's flag means only that an open
transaction holds the locker. The claim's partial index names the column, so it is dropped and
made again around the rename.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_FREE = {
    "0001": "occupied = false AND out_of_service = false AND operational = true",
    "0002": "held = false AND out_of_service = false AND operational = true",
}


def _rename(old: str, new: str, free_before: str, free_after: str) -> None:
    # Plain ALTER TABLE ... RENAME COLUMN on both engines (SQLite >= 3.25): a batch rebuild of
    # the table would drop it, which its foreign keys refuse once transactions reference it.
    op.drop_index("ix_lockers_free", table_name="lockers", sqlite_where=sa.text(free_before),
                  postgresql_where=sa.text(free_before))
    op.execute(f"ALTER TABLE lockers RENAME COLUMN {old} TO {new}")
    op.create_index("ix_lockers_free", "lockers", ["locker_type_id", "id"], unique=False,
                    sqlite_where=sa.text(free_after), postgresql_where=sa.text(free_after))


def upgrade() -> None:
    _rename("occupied", "held", _FREE["0001"], _FREE["0002"])


def downgrade() -> None:
    _rename("held", "occupied", _FREE["0002"], _FREE["0001"])
