"""staff menus by WeChat user tag: the tag changes to push (issue 18)

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import models.base

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The user tag each staff member's WeChat account should carry, and carries
    # (models/staff_tags.py; applied by the scheduler's job, handlers/staff/jobs.py).
    op.create_table(
        "staff_tag",
        sa.Column("openid", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("wanted", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("applied", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("changed_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_try_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_error", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.PrimaryKeyConstraint("openid"),
    )
    with op.batch_alter_table("staff_tag", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_staff_tag_next_try_at"), ["next_try_at"],
                              unique=False)
    # WeChat's ids of the user tags, by name (tags/get, else tags/create).
    op.create_table(
        "wechat_tag",
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("tag_id", sa.Integer(), nullable=False),
        sa.Column("fetched_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )


def downgrade() -> None:
    op.drop_table("wechat_tag")
    with op.batch_alter_table("staff_tag", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_staff_tag_next_try_at"))
    op.drop_table("staff_tag")
