"""the shared access token from /cgi-bin/stable_token: force refreshes counted per day (issue 18)

access_token gains force_refresh_day (the Asia/Shanghai day counted), force_refreshes (how
many force refreshes that day, all instances together) and force_refreshed_at (the last).

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.base

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("access_token", schema=None) as batch_op:
        batch_op.add_column(sa.Column("force_refresh_day", sa.Date(), nullable=True))
        batch_op.add_column(
            sa.Column("force_refreshes", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(
            sa.Column("force_refreshed_at", models.base.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("access_token", schema=None) as batch_op:
        batch_op.drop_column("force_refreshed_at")
        batch_op.drop_column("force_refreshes")
        batch_op.drop_column("force_refresh_day")
