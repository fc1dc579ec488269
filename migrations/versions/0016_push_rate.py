"""the account's push rate shared by every instance: a one-row token bucket (issue 19)

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    table = op.create_table(
        "push_rate",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tokens", sa.Float(), nullable=False),
        sa.Column("refilled_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    # The one row (models/push_rate.py): empty, refilled long ago, so the first draw
    # finds a full bucket.
    op.bulk_insert(table, [{"id": 1, "tokens": 0.0, "refilled_at": 0.0}])


def downgrade() -> None:
    op.drop_table("push_rate")
