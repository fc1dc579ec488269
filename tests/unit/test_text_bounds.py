"""One maximum per stored text field, the same on SQLite and PostgreSQL (models/text.py).

Every text column of every table has a maximum (a VARCHAR's length, or a TEXT column's
`long_text(N)`); a new column without one fails here. The guard refuses an over-long value
before the statement reaches the database, whichever way it is written (the ORM, a Core
INSERT or UPDATE, executemany), so SQLite refuses what PostgreSQL would.
"""

from __future__ import annotations

import importlib
import pkgutil
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import String, bindparam, text, update
from sqlmodel import SQLModel, col, select

import models
from bot.db import make_engine, session_factory
from models import claim, outbox
from models import grid as grids
from models.base import insert_for
from models.member import Member
from models.outbox import Outgoing, Push
from models.report import Report
from models.text import OPENID, OPENID_MAX, TooLong, fit, limit_of
from tests.chat.test_reports import HT_SQUARE, collection, feature

NOW = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)

for found in pkgutil.iter_modules(models.__path__):  # every table, even one not re-exported
    importlib.import_module(f"models.{found.name}")


def _text_columns() -> list[Any]:
    return [c for t in SQLModel.metadata.sorted_tables for c in t.columns
            if isinstance(c.type, String) or isinstance(getattr(c.type, "impl", None), String)]


def test_every_text_column_has_a_maximum() -> None:
    columns = _text_columns()
    assert len(columns) > 80  # the walk found the tables
    missing = [f"{c.table.name}.{c.name}" for c in columns if not limit_of(c)]
    assert missing == [], f"text columns without a maximum (max_length or long_text): {missing}"


def test_the_text_columns_hold_what_the_fields_say() -> None:
    by_name = {f"{c.table.name}.{c.name}": limit_of(c) for c in _text_columns()}
    assert by_name["report.address"] == 200 and by_name["report.description"] == 500
    assert by_name["member.openid"] == OPENID_MAX == 64
    assert by_name["course.description"] == 2000 and by_name["notice.body"] == 2000
    assert by_name["report_event.note"] == 500 and by_name["party_group.description"] == 500


def test_fit_cuts_with_an_ellipsis_that_fits() -> None:
    assert fit("湖塘花园街", 200) == "湖塘花园街"
    assert fit("a" * 200, 200) == "a" * 200
    cut = fit("路" * 300, 200)
    assert len(cut) == 200 and cut.endswith("…") and cut[:199] == "路" * 199
    assert fit("abc", 1) == "…"


def test_openid_is_letters_digits_dash_and_underscore() -> None:
    assert OPENID.fullmatch("oAbC-12_xyZ")
    for bad in ("", "a" * 65, "a b", "o<1>", "o\u200bx", "名字"):
        assert not OPENID.fullmatch(bad), bad
    assert OPENID.fullmatch("a" * 64)


async def _member(session: Any, openid: str = "o-bounds") -> Member:
    member = Member(openid=openid, created_at=NOW)
    session.add(member)
    await session.flush()
    return member


async def test_the_guard_refuses_every_way_of_writing_on_both_databases(db_url: str) -> None:
    engine = make_engine(db_url)
    sessions = session_factory(engine)
    try:
        # The ORM: a new row, then a changed one.
        async with sessions() as s:
            s.add(Member(openid="o" * 65, created_at=NOW))
            with pytest.raises(TooLong) as err:
                await s.commit()
        assert (err.value.table, err.value.column, err.value.limit, err.value.length) == (
            "member", "openid", 64, 65)
        async with sessions() as s, s.begin():
            await _member(s)
        async with sessions() as s:
            m = (await s.exec(select(Member).where(Member.openid == "o-bounds"))).one()
            m.name = "张" * 41
            s.add(m)
            with pytest.raises(TooLong, match=r"member\.name holds at most 40 characters"):
                await s.commit()
        # Core: INSERT … VALUES, UPDATE … SET, and executemany with named parameters.
        async with sessions() as s:
            with pytest.raises(TooLong, match=r"member\.platform"):
                await s.exec(update(Member).where(col(Member.openid) == "o-bounds")
                             .values(platform="平" * 41))
            with pytest.raises(TooLong, match=r"member\.openid"):
                await s.exec(insert_for(s, Member).values(openid="x" * 70, created_at=NOW))
            stmt = update(Push).where(col(Push.id) == bindparam("b_id")).values(
                reason=bindparam("b_reason"))
            conn = await s.connection()
            with pytest.raises(TooLong, match=r"outbox\.reason holds at most 200"):
                await conn.execute(stmt, [{"b_id": 1, "b_reason": "x"},
                                          {"b_id": 2, "b_reason": "错" * 201}])
        # A TEXT column's maximum holds just the same (it has no length in the database).
        async with sessions() as s:
            m = await _member(s, "o-text")
            s.add(Report(ticket="R20261201-0001", member_id=m.id, category="其他",
                         description="描" * 501, created_at=NOW, due_at=NOW, updated_at=NOW))
            with pytest.raises(TooLong, match=r"report\.description holds at most 500"):
                await s.flush()
        # Nothing of it was written; what fits is written as given, on either database.
        async with sessions() as s, s.begin():
            names = (await s.exec(select(Member.openid, Member.name, Member.platform))).all()
            assert names == [("o-bounds", None, None)]
            m = (await s.exec(select(Member))).one()
            m.name, m.platform = "张" * 40, "平" * 40
            s.add(m)
        async with sessions() as s:
            assert (await s.exec(select(Member.name))).one() == "张" * 40
    finally:
        await engine.dispose()


async def test_where_the_guard_fits_what_a_person_or_the_bot_wrote(db_url: str) -> None:
    """A stored reply and a push's text longer than their maximum are cut with "…"
    rather than lost (models/claim.py, models/outbox.py)."""
    engine = make_engine(db_url)
    sessions = session_factory(engine)
    try:
        async with sessions() as s, s.begin():
            await claim.record(s, "k" * 40, NOW, "答" * (claim.REPLY_MAX + 5), False)
            await outbox.enqueue(s, "reply", "s1", [Outgoing("o-1", "推" * 9000, {})], NOW)
        async with sessions() as s:
            stored = await claim.get(s, "k" * 40)
            assert stored is not None and stored.reply is not None
            assert len(stored.reply) == claim.REPLY_MAX and stored.reply.endswith("…")
            pushed = (await s.exec(select(Push.text))).one()
            assert len(pushed) == outbox.TEXT_MAX and pushed.endswith("…")
    finally:
        await engine.dispose()


async def test_postgresql_columns_are_as_long_as_the_models_say(pg_db_url: str) -> None:
    """The guard's maximum of each VARCHAR column is the one PostgreSQL enforces after the
    migrations (so SQLite refuses exactly what PostgreSQL would)."""
    engine = make_engine(pg_db_url)
    try:
        async with engine.connect() as conn:
            rows = (await conn.execute(text(
                "SELECT table_name, column_name, character_maximum_length, data_type "
                "FROM information_schema.columns WHERE table_schema = 'public' "
                "AND data_type IN ('character varying', 'text')"))).all()
    finally:
        await engine.dispose()
    in_db = {f"{t}.{c}": (n, kind) for t, c, n, kind in rows if t != "alembic_version"}
    for column in _text_columns():
        name = f"{column.table.name}.{column.name}"
        length, kind = in_db[name]
        if kind == "text":
            assert length is None and column.info.get("max_length"), name
        else:
            assert length == limit_of(column), name


async def test_an_import_file_names_an_over_long_field(sessions: Any, clock: Any) -> None:
    async with sessions() as s, s.begin():
        report = await grids.import_grids(s, collection(
            feature("HT", "湖塘网格", HT_SQUARE, []),
            feature("XY", "网" * 61, HT_SQUARE, [])), clock.now())
    assert report.rejected == [("第2个要素", "code 最长32个字符，name 最长60个字")]
    assert report.added == []
