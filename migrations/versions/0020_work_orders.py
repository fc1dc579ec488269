"""work orders as a 12345 hotline runs them: dispatch, acknowledge, return, extend, remind,
escalate, follow up, merge (issue 17)

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import models.base

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


_TIMES = ("dispatched_at", "ack_due_at", "acked_at", "reminded_at", "escalated_at",
          "followed_up_at")


def upgrade() -> None:
    with op.batch_alter_table("report") as batch:
        for name in _TIMES:
            batch.add_column(sa.Column(name, models.base.UTCDateTime(timezone=True),
                                       nullable=True))
        batch.add_column(sa.Column("returned", sa.Boolean(), nullable=False,
                                   server_default=sa.false()))
        batch.add_column(sa.Column("return_reason", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("priority", sa.Boolean(), nullable=False,
                                   server_default=sa.false()))
        batch.add_column(sa.Column("extension_state", sa.String(length=8), nullable=True))
        batch.add_column(sa.Column("extension_days", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("extension_reason", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("extension_by", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("merged_into_id", sa.Integer(), nullable=True))
        batch.create_foreign_key("fk_report_merged_into_id_report", "report",
                                 ["merged_into_id"], ["id"])
    with op.batch_alter_table("report_event") as batch:
        batch.add_column(sa.Column("action", sa.String(length=8), nullable=False,
                                   server_default="状态变更"))
    # Name the steps of the events already there: the report filed, and its dispatch by the
    # system at filing; reports already dispatched count as acknowledged when 处理中.
    op.execute("UPDATE report_event SET action = '受理' WHERE from_status IS NULL")
    op.execute("UPDATE report_event SET action = '派单' "
               "WHERE actor = 'system' AND to_status = '已派单'")
    op.execute("UPDATE report_event SET action = '评价' WHERE from_status = '已办结' "
               "AND to_status = '已办结' AND note LIKE '评价%'")
    op.execute("UPDATE report SET dispatched_at = created_at WHERE grid_code IS NOT NULL")
    op.execute("UPDATE report SET acked_at = updated_at "
               "WHERE status IN ('处理中', '已办结') AND grid_code IS NOT NULL")
    # The timed steps start with this upgrade, not with history: reports already past their
    # deadline count as reminded and escalated at it (the old daily digest told of them), and
    # those already 已办结 as followed up, so the first run of the work-order job does not
    # send one 催办, 督办 and 回访 per old report at once.
    time = models.base.UTCDateTime(timezone=True)
    report = sa.table("report", sa.column("status", sa.String()), sa.column("due_at", time),
                      sa.column("resolved_at", time), sa.column("reminded_at", time),
                      sa.column("escalated_at", time), sa.column("followed_up_at", time))
    bind = op.get_bind()
    bind.execute(report.update().where(
        report.c.status.in_(("已受理", "已派单", "处理中")),
        report.c.due_at <= datetime.now(UTC)).values(
        reminded_at=report.c.due_at, escalated_at=report.c.due_at))
    bind.execute(report.update().where(report.c.status == "已办结").values(
        followed_up_at=report.c.resolved_at))


def downgrade() -> None:
    with op.batch_alter_table("report_event") as batch:
        batch.drop_column("action")
    with op.batch_alter_table("report") as batch:
        batch.drop_constraint("fk_report_merged_into_id_report", type_="foreignkey")
        for name in ("merged_into_id", "extension_by", "extension_reason", "extension_days",
                     "extension_state", "priority", "return_reason", "returned", *_TIMES):
            batch.drop_column(name)
