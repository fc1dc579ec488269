"""push_bench's databases: PostgreSQL probed (created if missing) and reset per scenario,
and the N registered members a notice goes to."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from sqlalchemy import insert, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from bot.migrate import upgrade
from models.member import Member

DEFAULT_PG = "postgresql+asyncpg://postgres@127.0.0.1:5432/push_bench"


def pg_problem(url: str) -> str | None:
    """None when the database at `url` is usable (created if missing), else why not."""
    parsed = make_url(url)

    async def probe(target: Any) -> None:
        engine = create_async_engine(target, isolation_level="AUTOCOMMIT")
        try:
            async with engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        finally:
            await engine.dispose()

    async def create() -> None:
        engine = create_async_engine(parsed.set(database="postgres"),
                                     isolation_level="AUTOCOMMIT")
        try:
            async with engine.connect() as conn:
                found = await conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :d"),
                                          {"d": parsed.database})
                if not found:
                    name = (parsed.database or "").replace('"', '""')
                    await conn.execute(text(f'CREATE DATABASE "{name}"'))
                    print(f"  created database {parsed.database}")
        finally:
            await engine.dispose()

    try:
        asyncio.run(asyncio.wait_for(probe(parsed), 10))
        return None
    except Exception as first:
        try:
            asyncio.run(asyncio.wait_for(create(), 10))
            asyncio.run(asyncio.wait_for(probe(parsed), 10))
            return None
        except Exception as exc:
            where = parsed.render_as_string(hide_password=True)
            return (f"PostgreSQL at {where} unusable: {type(first).__name__}: {first}; "
                    f"creating it: {type(exc).__name__}: {exc}")


def pg_fresh(url: str) -> None:
    async def reset() -> None:
        engine = create_async_engine(url)
        try:
            async with engine.begin() as conn:
                await conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
                await conn.execute(text("CREATE SCHEMA public"))
        finally:
            await engine.dispose()

    asyncio.run(reset())
    upgrade(url)


async def insert_members(engine: AsyncEngine, n: int, prefix: str, now: datetime) -> None:
    """N registered, following members in one transaction (core executemany)."""
    table = Member.__table__  # type: ignore[attr-defined]

    def rows(lo: int, hi: int) -> list[dict[str, Any]]:
        return [{"openid": f"{prefix}{i:08d}", "consent_at": now, "registered_at": now,
                 "followed": True, "points": 0, "created_at": now, "kefu_used": 0,
                 "kefu_used_event": 0, "industry": "外卖送餐"} for i in range(lo, hi)]

    async with engine.begin() as conn:
        for lo in range(0, n, 5000):
            await conn.execute(insert(table), rows(lo, min(n, lo + 5000)))
