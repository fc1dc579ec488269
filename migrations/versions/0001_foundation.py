"""members, dialogs, inbound claims, console accounts

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import models.base

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "console_user",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("password_hash", sqlmodel.sql.sqltypes.AutoString(length=256), nullable=False),
        sa.Column("role", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("grid_code", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column("group_code", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column("openid", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("openid"),
        sa.UniqueConstraint("username"),
    )
    op.create_table(
        "dialog",
        sa.Column("openid", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("state", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("updated_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("openid"),
    )
    op.create_table(
        "inbound_claim",
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("created_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("reply", sa.Text(), nullable=True),
        sa.Column("deferred", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    with op.batch_alter_table("inbound_claim", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_inbound_claim_created_at"), ["created_at"], unique=False
        )

    op.create_table(
        "member",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("openid", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
        sa.Column("mobile", sqlmodel.sql.sqltypes.AutoString(length=11), nullable=True),
        sa.Column("industry", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
        sa.Column("platform", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
        sa.Column("party_status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
        sa.Column("consent_at", models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("registered_at", models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("followed", sa.Boolean(), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("created_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_inbound_at", models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("erased_at", models.base.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("openid"),
    )
    op.create_table(
        "bind_code",
        sa.Column("code", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("expires_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", models.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["console_user.id"],
        ),
        sa.PrimaryKeyConstraint("code"),
    )
    with op.batch_alter_table("bind_code", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_bind_code_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("bind_code", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bind_code_user_id"))

    op.drop_table("bind_code")
    op.drop_table("member")
    with op.batch_alter_table("inbound_claim", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_inbound_claim_created_at"))

    op.drop_table("inbound_claim")
    op.drop_table("dialog")
    op.drop_table("console_user")
