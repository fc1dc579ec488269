"""Logging that keeps personal data out: openids are hashed; phone, ID-card and landline
numbers masked in any spelling (models/redact.py; a mobile shows as 138****8000)."""

from __future__ import annotations

import contextvars
import hashlib
import json
import logging
import uuid
from datetime import UTC, datetime

from models.redact import redact

# The callback being handled, so every line it logs can be found together.
REQUEST_ID: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")


def new_request_id() -> str:
    rid = uuid.uuid4().hex[:12]
    REQUEST_ID.set(rid)
    return rid


def anon(openid: str) -> str:
    """A short stable hash of an openid: enough to follow one user through logs."""
    return "u_" + hashlib.sha256(openid.encode()).hexdigest()[:10]


def _mask(text: str) -> str:
    return redact(text, partial=True)


class _MaskPhones(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = _mask(record.msg)
        if record.args:
            record.args = tuple(
                _mask(a) if isinstance(a, str) else a
                for a in (record.args if isinstance(record.args, tuple) else (record.args,))
            )
        return True


class _MaskingFormatter(logging.Formatter):
    """Tracebacks are masked too: an exception's text may quote a phone number."""

    def formatException(self, ei: object) -> str:
        return _mask(super().formatException(ei))  # type: ignore[arg-type]


class _JsonFormatter(_MaskingFormatter):
    """One JSON object a line: time, level, logger, message, request id, exception."""

    def format(self, record: logging.LogRecord) -> str:
        ts = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
        line = {"ts": ts, "level": record.levelname, "logger": record.name,
                "msg": record.getMessage(), "request_id": REQUEST_ID.get()}
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def setup(level: int = logging.INFO, json_lines: bool = False) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(_JsonFormatter() if json_lines else _MaskingFormatter(
        "%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(_MaskPhones())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # The access log would carry openids (WeChat puts one in the callback's query string).
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    # APScheduler says "Running job…"/"…executed successfully" at INFO for every run; and a
    # failing job is logged once, with its traceback, by bot/scheduler.py's listener (the
    # executor's own ERROR line would say it again: shown at DEBUG only).
    logging.getLogger("apscheduler").setLevel(max(level, logging.WARNING))
    logging.getLogger("apscheduler.executors").setLevel(
        logging.DEBUG if level <= logging.DEBUG else logging.CRITICAL)
    # At DEBUG these log statements with their parameters: tokens, names, phones.
    for noisy in ("aiosqlite", "asyncpg", "sqlalchemy"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))
