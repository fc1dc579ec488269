"""apscheduler_jobs goes: the scheduler keeps its periodic jobs in memory now (bot/scheduler.py),
and reminders are due rows the outbox worker sends (0010)

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-28
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Made by APScheduler's SQLAlchemyJobStore, never by a migration: maybe absent.
    op.execute("DROP TABLE IF EXISTS apscheduler_jobs")


def downgrade() -> None:
    pass  # nothing to restore: an older bot's scheduler makes the table again at start
