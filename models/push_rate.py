"""The account's send rate, shared by every instance: one row used as a token bucket.

WeChat limits the service account, not a process, so `push.rate_per_s` holds for all
instances together. A worker draws a wave's worth of sends with one atomic UPDATE …
RETURNING (PostgreSQL: the row lock orders concurrent draws; SQLite: its single writer)
and learns how long to wait before sending them:

    tokens ← min(burst, tokens + elapsed × rate) − k;   wait = max(0, −tokens) / rate

The bucket may go into debt: a draw never fails, it reserves the next free slots and the
caller sleeps until they come, so no worker spins on the row. Over any span of T seconds
at most `burst + rate × T` sends are released, whatever the number of workers. The time is
the database's (PostgreSQL's clock_timestamp(), SQLite's clock on its one host), so the
instances' own clocks never enter the arithmetic.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import Field, SQLModel

ROW_ID = 1


class PushRate(SQLModel, table=True):
    __tablename__ = "push_rate"

    id: int = Field(default=ROW_ID, primary_key=True)
    tokens: float = 0.0  # may be negative: sends reserved but not yet due
    refilled_at: float = 0.0  # seconds since the epoch, the database's clock


_NOW = {
    "postgresql": "extract(epoch from clock_timestamp())::float8",
    "sqlite": "((julianday('now') - 2440587.5) * 86400.0)",
}
_LEAST = {"postgresql": "LEAST", "sqlite": "MIN"}
_GREATEST = {"postgresql": "GREATEST", "sqlite": "MAX"}


def _draw_sql(dialect: str) -> str:
    now, least, greatest = _NOW[dialect], _LEAST[dialect], _GREATEST[dialect]
    return (
        f"UPDATE push_rate SET tokens = {least}(CAST(:burst AS FLOAT), tokens"
        f" + {greatest}(0.0, {now} - refilled_at) * :rate) - :k,"
        f" refilled_at = {greatest}(refilled_at, {now})"
        f" WHERE id = {ROW_ID} RETURNING tokens"
    )


_DRAW = {d: text(_draw_sql(d)) for d in _NOW}
_SEED = text(f"INSERT INTO push_rate (id, tokens, refilled_at) VALUES ({ROW_ID}, 0, 0) "
             "ON CONFLICT DO NOTHING")


async def draw(conn: AsyncConnection, k: int, rate: float, burst: float) -> float:
    """Take `k` sends from the shared bucket: the seconds to wait before sending them.

    One statement; the caller commits (on PostgreSQL it may run in autocommit)."""
    stmt = _DRAW[conn.dialect.name]
    params = {"k": float(k), "rate": float(rate), "burst": float(burst)}
    left = (await conn.execute(stmt, params)).scalar()
    if left is None:  # the row the migration seeds is missing: put it back once
        await conn.execute(_SEED)
        left = (await conn.execute(stmt, params)).scalar_one()
    return max(0.0, -float(left)) / rate
