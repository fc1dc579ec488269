"""subscribe-message grants, delivery receipts, members who blocked templates (issue 18)

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.base

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "subscribe_grant",
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("template_id", sa.String(length=128), nullable=False),
        sa.Column("one_time", sa.Integer(), nullable=False),
        sa.Column("long_term", sa.Boolean(), nullable=False),
        sa.Column("updated_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["member_id"], ["member.id"]),
        sa.PrimaryKeyConstraint("member_id", "template_id"),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("receipt", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("receipt_status", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("receipt_at", models.base.UTCDateTime(timezone=True),
                                      nullable=True))
        batch_op.create_index("ix_outbox_wx_msgid", ["wx_msgid"], unique=False)
    with op.batch_alter_table("member", schema=None) as batch_op:
        batch_op.add_column(sa.Column("template_blocked_at",
                                      models.base.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("member", schema=None) as batch_op:
        batch_op.drop_column("template_blocked_at")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_wx_msgid")
        batch_op.drop_column("receipt_at")
        batch_op.drop_column("receipt_status")
        batch_op.drop_column("receipt")
    op.drop_table("subscribe_grant")
