"""Logging that keeps personal data out: openids are hashed, phones masked."""

from __future__ import annotations

import hashlib
import logging
import re

_PHONE = re.compile(r"(?<!\d)(1[3-9]\d)\d{4}(\d{4})(?!\d)")


def anon(openid: str) -> str:
    """A short stable hash of an openid: enough to follow one user through logs."""
    return "u_" + hashlib.sha256(openid.encode()).hexdigest()[:10]


class _MaskPhones(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = _PHONE.sub(r"\1****\2", record.msg)
        if record.args:
            record.args = tuple(
                _PHONE.sub(r"\1****\2", a) if isinstance(a, str) else a
                for a in (record.args if isinstance(record.args, tuple) else (record.args,))
            )
        return True


class _MaskingFormatter(logging.Formatter):
    """Tracebacks are masked too: an exception's text may quote a phone number."""

    def formatException(self, ei: object) -> str:
        return _PHONE.sub(r"\1****\2", super().formatException(ei))  # type: ignore[arg-type]


def setup(level: int = logging.INFO) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(_MaskingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(_MaskPhones())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # The access log would carry openids (WeChat puts one in the callback's query string).
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    # At DEBUG these log statements with their parameters: tokens, names, phones.
    for noisy in ("aiosqlite", "asyncpg", "sqlalchemy"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))
