"""The async database: one engine per process, sessions per unit of work.

SQLite (aiosqlite) is the default; PostgreSQL (asyncpg) is what the bot scales on.
On SQLite every transaction starts with BEGIN IMMEDIATE: writers queue on the
database lock instead of failing half-way when a reader tries to become a writer.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

SQLITE_BUSY_TIMEOUT_S = 30
_ADVISORY_LOCK = "SELECT pg_advisory_xact_lock($1)"  # asyncpg's paramstyle


def make_engine(url: str, **kwargs: Any) -> AsyncEngine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            # One connection: this process's transactions queue on the pool (an asyncio
            # wait) instead of on SQLite's lock, whose busy handler sleeps in steps of
            # up to 100 ms and collapses throughput under concurrency.
            kwargs = {"pool_size": 1, "max_overflow": 0, **kwargs}
        engine = create_async_engine(
            url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S}, hide_parameters=True, **kwargs
        )
        _sqlite_pragmas(engine)
        return engine
    # hide_parameters: an error's text never carries openids, phones or tokens into a log.
    # No pre-ping (it cost three round trips per transaction): after a database restart
    # the first statement on a dead connection fails, SQLAlchemy discards every connection
    # made before it, and the next transaction connects afresh (the callback pipeline
    # tries such a callback once more).
    # Fail fast when the database is down or frozen (3 s to connect or to wait for a pooled
    # connection), so a callback still answers within WeChat's 5 s.
    return create_async_engine(url, pool_size=10, max_overflow=10, pool_timeout=3,
                               connect_args={"timeout": 3}, hide_parameters=True, **kwargs)


def make_console_engine(main: AsyncEngine, url: str, pool_size: int,
                        statement_timeout_s: float) -> AsyncEngine:
    """The engine of the console, /api/v1 and the login, apart from the callbacks'.

    PostgreSQL: a small pool of its own (`pool_size`, as many again in overflow, 3 s to
    wait for one), whose statements the server cancels after `statement_timeout_s`: a
    flood of logins or a slow report holds at most these connections, never one the
    callback pipeline's pool needs. SQLite has one connection per process (see
    make_engine): the same engine, and the console keeps its transactions short instead
    (the login checks passwords with no connection held)."""
    if make_url(url).get_backend_name() == "sqlite":
        return main
    timeout_ms = str(max(1, int(statement_timeout_s * 1000)))
    return create_async_engine(
        url, pool_size=pool_size, max_overflow=pool_size, pool_timeout=3,
        connect_args={"timeout": 3, "server_settings": {"statement_timeout": timeout_ms}},
        hide_parameters=True)


def _sqlite_pragmas(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide where transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_S * 1000}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)


async def lock_key(session: AsyncSession, name: str) -> None:
    """Hold the lock called `name` across processes until the transaction ends.

    PostgreSQL: a transaction-scoped advisory lock. SQLite: the write lock taken by
    BEGIN IMMEDIATE already serialises every transaction.
    """
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        key = int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "big",
                             signed=True)
        conn = await session.connection()
        # The driver's own SQL: nothing to compile or look up for the hottest statement.
        await conn.exec_driver_sql(_ADVISORY_LOCK, (key,))


async def lock_user(session: AsyncSession, openid: str) -> None:
    """One message per user at a time, across processes, until the transaction ends."""
    await lock_key(session, openid)


async def ping(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))
