"""one maximum per stored text field on both databases (issue 15)

The maximums live beside the columns (models/*.py: a VARCHAR's max_length, a TEXT column's
`long_text(N)`), and models/text.py refuses a longer value before it is written, on SQLite as
on PostgreSQL. No column changes type. What SQLite stored past a maximum before (it ignores
VARCHAR lengths), and what went into the TEXT columns that had none, is cut here the way the
bot now cuts it: to the maximum, "…" included. Identifiers are left alone (cutting one would
make it name something else); only text a person wrote is cut.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (table, column, maximum) as the models say at this revision: written out, not imported,
# so that this migration keeps meaning what it meant.
FREE_TEXT = (
    ("report", "address", 200),
    ("report", "description", 500),
    ("report_event", "note", 500),
    ("activity_attendance", "reason", 200),
    ("activity", "place", 120),
    ("party_group", "description", 500),
    ("course", "description", 2000),
)


def upgrade() -> None:
    for table, column, limit in FREE_TEXT:
        op.execute(sa.text(
            f"UPDATE {table} SET {column} = substr({column}, 1, {limit - 1}) || '…' "
            f"WHERE length({column}) > {limit}"))


def downgrade() -> None:
    pass  # what was cut is gone; the columns themselves did not change
