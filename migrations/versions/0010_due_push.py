"""due_push: pushes due later (reminders, rolls, scheduled notices) as rows the outbox worker
expands; backfilled from the courses, activities and notices still to come; the courses'
planned_revision (the APScheduler planning's bookkeeping) goes

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-28
"""

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
import sqlmodel
from alembic import op

import models.base

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PENDING = sa.text("status = 'pending'")
DEFAULT_OFFSETS = [timedelta(hours=24), timedelta(hours=1)]
ROLL_WITHIN = timedelta(days=1)
UTC_TIME = models.base.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "due_push",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("subject", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("slot", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("due_at", UTC_TIME, nullable=False),
        sa.Column("not_after", UTC_TIME, nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("done_at", UTC_TIME, nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("kind", "subject", "slot", name="uq_due_push_slot"),
    )
    op.create_index("ix_due_push_pending", "due_push", ["due_at"], postgresql_where=PENDING,
                    sqlite_where=PENDING)
    _backfill()
    with op.batch_alter_table("course", schema=None) as batch_op:
        batch_op.drop_column("planned_revision")


def downgrade() -> None:
    with op.batch_alter_table("course", schema=None) as batch_op:
        batch_op.add_column(sa.Column("planned_revision", sa.Integer(), nullable=False,
                                      server_default=sa.text("-1")))
    op.drop_index("ix_due_push_pending", table_name="due_push")
    op.drop_table("due_push")


# --- the backfill: what the APScheduler jobs held, as due rows ------------------------------


def _offsets() -> list[timedelta]:
    """school.reminder_offsets of the settings in use: handed over by `run.py migrate` /
    `serve` (bot/migrate.py); under plain `alembic upgrade`, read from config.yaml and
    XIAOGE_* variables; the defaults if neither can be had."""
    given = op.get_context().config.attributes.get("reminder_offsets")
    if given is not None:
        return list(given)
    try:
        from bot.settings import load_settings

        return list(load_settings().school.reminder_offsets)
    except Exception:
        return DEFAULT_OFFSETS


def _backfill() -> None:
    conn = op.get_bind()
    now = datetime.now(UTC)
    offsets = [o for o in _offsets() if o > timedelta(0)]
    planned = [int(o.total_seconds()) for o in offsets]
    due = sa.table("due_push", sa.column("kind"), sa.column("subject"), sa.column("slot"),
                   sa.column("due_at", UTC_TIME), sa.column("not_after", UTC_TIME),
                   sa.column("payload", sa.JSON()), sa.column("status"),
                   sa.column("done_at", UTC_TIME))
    outbox = sa.table("outbox", sa.column("subject"))
    course = sa.table("course", sa.column("id"), sa.column("status"),
                      sa.column("start_at", UTC_TIME), sa.column("timed_at", UTC_TIME))
    activity = sa.table("activity", sa.column("id"), sa.column("status"),
                        sa.column("revision"), sa.column("start_at", UTC_TIME),
                        sa.column("end_at", UTC_TIME))
    notice = sa.table("notice", sa.column("id"), sa.column("status"),
                      sa.column("send_at", UTC_TIME))
    rows: list[dict[str, Any]] = []

    def add(kind: str, subject: str, slot: str, at: datetime, not_after: datetime | None,
            payload: dict[str, Any], sent_as: str | None = None) -> None:
        # A push whose outbox rows exist already was made by the old jobs: recorded as done.
        done = sent_as is not None and conn.execute(
            sa.select(outbox.c.subject).where(outbox.c.subject == sent_as).limit(1)
        ).first() is not None
        rows.append({"kind": kind, "subject": subject, "slot": slot, "due_at": at,
                     "not_after": not_after, "payload": payload,
                     "status": "done" if done else "pending", "done_at": now if done else None})

    for cid, start, timed in conn.execute(sa.select(course.c.id, course.c.start_at,
                                                    course.c.timed_at).where(
            course.c.status == "published", course.c.start_at > now)):
        for o in offsets:
            if start - o >= timed:
                s = int(o.total_seconds())
                add("course_reminder", f"course:{cid}", str(s), start - o, start,
                    {"start_ts": int(start.timestamp()), "offsets": planned},
                    f"course:{cid}:remind{s}:{int(start.timestamp())}")
    for aid, rev, start, end in conn.execute(sa.select(
            activity.c.id, activity.c.revision, activity.c.start_at, activity.c.end_at).where(
            activity.c.status == "scheduled", activity.c.end_at > now - ROLL_WITHIN)):
        if start > now:
            for s in planned:
                add("activity_reminder", f"activity:{aid}", str(s),
                    start - timedelta(seconds=s), start, {"revision": rev, "offsets": planned},
                    f"activity:{aid}:remind{s}:r{rev}")
        add("activity_roll", f"activity:{aid}", "roll", end, end + ROLL_WITHIN,
            {"revision": rev}, f"activity:{aid}:roll")
    for (nid, send_at) in conn.execute(sa.select(notice.c.id, notice.c.send_at).where(
            notice.c.status == "scheduled")):
        add("notice", f"notice:{nid}", "", send_at, None, {})
    if rows:
        op.bulk_insert(due, rows)  # type: ignore[arg-type]
