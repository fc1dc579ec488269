"""Migration 0020 starts the work-order job's timed steps with the upgrade: reports already
past their deadline count as reminded and escalated, those already 已办结 as followed up, so
the job's first run sends no flood of 催办, 督办 and 回访 about old reports."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from alembic import command

from bot.migrate import alembic_config
from models.base import UTCDateTime

TIME = UTCDateTime(timezone=True)


def test_old_reports_do_not_set_off_the_job(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
    cfg = alembic_config(url)
    command.upgrade(cfg, "0019")
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'old.db'}")
    now = datetime.now(UTC)
    member = sa.table("member", sa.column("id"), sa.column("openid"), sa.column("followed"),
                      sa.column("points"), sa.column("created_at", TIME),
                      sa.column("kefu_used"), sa.column("kefu_used_event"))
    report = sa.table("report", *(sa.column(c) for c in (
        "id", "ticket", "member_id", "category", "description", "status", "photo_status",
        "photo_attempts", "reopened")), *(sa.column(c, TIME) for c in (
            "created_at", "due_at", "resolved_at", "updated_at")))
    with engine.begin() as conn:
        conn.execute(member.insert().values(id=1, openid="o-old", followed=True, points=0,
                                            created_at=now, kefu_used=0, kefu_used_event=0))
        base = {"member_id": 1, "category": "其他", "description": "旧的上报",
                "photo_status": "none", "photo_attempts": 0, "reopened": 0,
                "created_at": now - timedelta(days=9), "updated_at": now, "resolved_at": None}
        conn.execute(report.insert(), [
            {**base, "id": 1, "ticket": "R1", "status": "处理中",
             "due_at": now - timedelta(days=5)},                      # long overdue
            {**base, "id": 2, "ticket": "R2", "status": "已受理",
             "due_at": now + timedelta(days=2)},                      # not due yet
            {**base, "id": 3, "ticket": "R3", "status": "已办结",
             "due_at": now - timedelta(days=5), "resolved_at": now - timedelta(days=1)},
        ])
    command.upgrade(cfg, "head")
    with engine.connect() as conn:
        rows = {r.ticket: r for r in conn.execute(sa.text(
            "SELECT ticket, reminded_at, escalated_at, followed_up_at FROM report"))}
    engine.dispose()
    assert rows["R1"].reminded_at is not None and rows["R1"].escalated_at is not None
    assert rows["R2"].reminded_at is None and rows["R2"].escalated_at is None
    assert rows["R3"].followed_up_at is not None and rows["R3"].reminded_at is None
