"""Apply the Alembic migrations (run.py migrate, and before serving)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

from alembic import command
from alembic.config import Config

ROOT = Path(__file__).resolve().parent.parent


def alembic_config(url: str) -> Config:
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, reminder_offsets: Sequence[timedelta] | None = None) -> None:
    """Bring the database at `url` to the newest schema. Call with no event loop running.
    `reminder_offsets` (school.reminder_offsets of the settings in use) reach migrations
    that plan reminders (0010's backfill)."""
    cfg = alembic_config(url)
    if reminder_offsets is not None:
        cfg.attributes["reminder_offsets"] = list(reminder_offsets)
    command.upgrade(cfg, "head")
