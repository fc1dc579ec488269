"""console logins: throttle by account and address, account locks (issue 15)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.base

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # When a key's latest counted failure was: the login's growing delays run from it.
    with op.batch_alter_table("login_failure") as batch:
        batch.add_column(sa.Column("last_at", models.base.UTCDateTime(timezone=True),
                                   nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("login_failure") as batch:
        batch.drop_column("last_at")
