"""`run.py import-courses`, `notify --audience course:CODE` and the courses' QR codes, as an
operator runs them; and import_courses' all-or-nothing rules underneath."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from bot import texts as T
from bot.cli import read_rows
from bot.clock import SHANGHAI
from bot.db import make_engine, session_factory
from handlers.school.wording import COURSE_TEXTS
from models import course as courses
from models import course_enrolment as enrolment
from models import course_lifecycle as lifecycle
from models import notice as notices
from models.course import Course, Enrolment
from models.course_import import import_courses
from models.member import Member
from models.outbox import Push
from tests.processes.test_command_line import ROOT, all_rows, env_for, free_port, run
from tests.processes.test_command_line import server as server  # the running dev bot, a fixture

HEADER = "code,title,instructor,start,end,place,lat,lng,radius_m,online_url,capacity,hours," \
         "audience,status\n"


def _at(days: int, hour: int, minute: int = 0) -> str:
    """A local time `days` from today, as the course file writes it."""
    day = datetime.now(SHANGHAI) + timedelta(days=days)
    return day.replace(hour=hour, minute=minute, second=0, microsecond=0).strftime(
        "%Y-%m-%dT%H:%M")


def good_csv() -> str:
    return HEADER + (
        f"DX01,新就业群体党员的初心使命,王老师,{_at(10, 19, 30)},{_at(10, 21)},"
        "湖塘红色驿站,31.7093,119.9512,,,40,1.5,all,\n"
        f"DX02,骑手交通安全,李警官,{_at(17, 15)},{_at(17, 16, 30)},"
        "延政路红色服务吧,31.7012,119.9403,150,,30,1.5,industry:外卖送餐,published\n"
        f"DX03,线上微党课,,{_at(24, 20)},{_at(24, 20, 45)},,,,,https://example.com/dx03,"
        "500,1,all,\n"
    )


def good_yaml() -> str:
    return f"""\
- code: DX04
  title: 身边的法律：劳动权益
  start: "{_at(30, 14)}"
  end: "{_at(30, 16)}"
  place: 万达广场红色驿站
  lat: 31.7158
  lng: 119.9625
  capacity: 40
  hours: 2

- code: DX01
  title: 新就业群体党员的初心使命（第二讲）
  instructor: 王老师
  start: "{_at(10, 19, 30)}"
  end: "{_at(10, 21)}"
  place: 湖塘红色驿站
  lat: 31.7093
  lng: 119.9512
  capacity: 40
  hours: 1.5

- code: DX05
  title: 还在准备的课
  start: "{_at(40, 19)}"
  end: "{_at(40, 20)}"
  online_url: https://example.com/dx05
  capacity: 100
  hours: 1
  status: draft
"""


def on_db(url: str, work: Callable[[Any], Awaitable[Any]]) -> Any:
    """Run `work(session)` in one committed transaction, from a synchronous test."""

    async def _run() -> Any:
        engine = make_engine(url)
        try:
            async with session_factory(engine)() as session, session.begin():
                return await work(session)
        finally:
            await engine.dispose()

    return asyncio.run(_run())


def test_import_csv_again_then_yaml_then_qrcodes(tmp_path: Path, db_url: str) -> None:
    env = env_for(db_url, free_port())
    (tmp_path / "c.csv").write_text(good_csv(), encoding="utf-8")
    first = run(["import-courses", str(tmp_path / "c.csv")], env)
    assert first.returncode == 0, first.stderr
    assert "新增 3，更新 0，未变 0" in first.stdout and "新增：DX01、DX02、DX03" in first.stdout
    again = run(["import-courses", str(tmp_path / "c.csv")], env)
    assert again.returncode == 0, again.stderr
    assert "新增 0，更新 0，未变 3" in again.stdout
    found = {c.code: c for c in all_rows(db_url, Course)}
    assert found["DX02"].audience == "industry:外卖送餐" and found["DX02"].radius_m == 150
    assert found["DX03"].online and found["DX03"].created_by == "cli"
    assert found["DX01"].start_at == datetime.fromisoformat(_at(10, 19, 30)).replace(
        tzinfo=SHANGHAI)

    (tmp_path / "c.yaml").write_text(good_yaml(), encoding="utf-8")
    yaml_run = run(["import-courses", str(tmp_path / "c.yaml")], env)
    assert yaml_run.returncode == 0, yaml_run.stderr
    assert "新增 2，更新 1，未变 0" in yaml_run.stdout
    assert "新增：DX04、DX05" in yaml_run.stdout and "更新：DX01" in yaml_run.stdout

    async def cancel_dx03(s: Any) -> None:
        c = await courses.by_code(s, "DX03", lock=True)
        await lifecycle.cancel(s, c, datetime.now(SHANGHAI), T.COURSE_CANCELLED)

    on_db(db_url, cancel_dx03)
    out = tmp_path / "qr"
    made = run(["qrcodes", "--out", str(out)], env)
    assert made.returncode == 0, made.stderr
    pngs = sorted(p.name for p in out.iterdir())
    assert pngs == ["course-DX01.png", "course-DX02.png", "course-DX04.png"]  # no draft, no
    assert (out / "course-DX01.png").read_bytes().startswith(b"\x89PNG")  # cancelled one


def test_a_moved_row_moves_the_course(tmp_path: Path, db_url: str) -> None:
    env = env_for(db_url, free_port())
    (tmp_path / "c.csv").write_text(good_csv(), encoding="utf-8")
    assert run(["import-courses", str(tmp_path / "c.csv")], env).returncode == 0
    before = {c.code: c for c in all_rows(db_url, Course)}["DX02"]
    moved = good_csv().replace(f"{_at(17, 15)},{_at(17, 16, 30)}",
                               f"{_at(18, 9)},{_at(18, 10, 30)}")
    (tmp_path / "c.csv").write_text(moved, encoding="utf-8")
    result = run(["import-courses", str(tmp_path / "c.csv")], env)
    assert result.returncode == 0, result.stderr
    assert "新增 0，更新 1，未变 2" in result.stdout and "更新：DX02" in result.stdout
    after = {c.code: c for c in all_rows(db_url, Course)}["DX02"]
    assert after.start_at == datetime.fromisoformat(_at(18, 9)).replace(tzinfo=SHANGHAI)
    assert after.end_at - after.start_at == timedelta(minutes=90)
    assert after.revision > before.revision  # the running bot re-plans its reminders


def test_a_broken_course_file_is_refused_whole(tmp_path: Path, db_url: str) -> None:
    env = env_for(db_url, free_port())
    lines = good_csv().splitlines()
    broken = "\n".join([
        *lines,  # lines 2-4 are good
        f"DX10,坏时间,,12月5日晚上,{_at(10, 21)},湖塘,31.7,119.9,,,40,1,,",
        f"DX11,先结束,,{_at(10, 21)},{_at(10, 19)},湖塘,31.7,119.9,,,40,1,,",
        f"DX12,人数不对,,{_at(10, 19)},{_at(10, 21)},湖塘,31.7,119.9,,,很多,1,,",
        lines[1].replace("新就业群体党员的初心使命", "重复的课"),
        f"DX13,行业不对,,{_at(10, 19)},{_at(10, 21)},湖塘,31.7,119.9,,,40,1,industry:保安,",
        f"DX14,线下没地点,,{_at(10, 19)},{_at(10, 21)},,,,,,40,1,,",
    ]) + "\n"
    (tmp_path / "bad.csv").write_text(broken, encoding="utf-8")
    result = run(["import-courses", str(tmp_path / "bad.csv")], env)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert "未导入任何课程：6 行有误" in result.stderr
    assert "第5行：start「12月5日晚上」不是 ISO 8601 时间" in result.stderr
    assert "第6行：end 须晚于 start" in result.stderr
    assert "第7行：capacity「很多」不是数字" in result.stderr
    assert "第8行：code DX01 与第2行重复" in result.stderr
    assert "第9行：audience 须为 all、industry:行业" in result.stderr
    assert "第10行：线下课要写 place 和 lat/lng" in result.stderr
    assert all_rows(db_url, Course) == []  # not even the good rows

    (tmp_path / "cols.csv").write_text("code,title\nX,Y\n", encoding="utf-8")
    cols = run(["import-courses", str(tmp_path / "cols.csv")], env)
    assert cols.returncode == 2 and "缺少列：start, end, capacity, hours" in cols.stderr

    (tmp_path / "map.yaml").write_text("code: DX01\n", encoding="utf-8")
    not_list = run(["import-courses", str(tmp_path / "map.yaml")], env)
    assert not_list.returncode == 2 and "每项是一个课程" in not_list.stderr

    bad_yaml = good_yaml().replace("capacity: 40\n  hours: 2", "capacity: 40\n  hours: 0")
    (tmp_path / "lines.yaml").write_text(bad_yaml, encoding="utf-8")
    yaml_run = run(["import-courses", str(tmp_path / "lines.yaml")], env)
    assert yaml_run.returncode == 2 and "第1行：hours 须大于 0" in yaml_run.stderr
    assert all_rows(db_url, Course) == []


def test_notify_a_course_reaches_its_enrollees(server: tuple[int, dict[str, str]],
                                               tmp_path: Path) -> None:
    _, env = server
    members = tmp_path / "members.csv"
    members.write_text("openid,name,mobile,industry,platform,party_status\n" + "".join(
        f"crs-{i},王小{n},1380000000{i},外卖送餐,美团,中共党员\n"
        for i, n in enumerate("一二三四五")), encoding="utf-8")
    assert run(["import-members", str(members)], env).returncode == 0
    (tmp_path / "c.csv").write_text(good_csv(), encoding="utf-8")
    assert run(["import-courses", str(tmp_path / "c.csv")], env).returncode == 0

    async def enrol(s: Any) -> None:
        now = datetime.now(SHANGHAI)
        c = await courses.by_code(s, "DX01")
        found = {m.openid: m for m in (await s.exec(select(Member))).all()}
        for openid, status in (("crs-0", "enrolled"), ("crs-1", "enrolled"),
                               ("crs-2", "waitlist"), ("crs-3", "cancelled"),
                               ("crs-4", "enrolled")):
            s.add(Enrolment(course_id=c.id, member_id=found[openid].id, status=status,
                            queued_at=now, enrolled_at=now if status == "enrolled" else None))
        found["crs-4"].erased_at = now
        s.add(found["crs-4"])

    on_db(env["XIAOGE_DATABASE__URL"], enrol)
    sent = run(["notify", "--audience", "course:dx01", "--title", "课前准备",
                "--body", "请带好党员证，提前10分钟到驿站。"], env)
    assert sent.returncode == 0, sent.stderr
    assert "2 位接收人" in sent.stdout
    notice_id = re.search(r"通知 (\d+)：", sent.stdout)
    assert notice_id, sent.stdout
    pushed = {p.openid for p in all_rows(env["XIAOGE_DATABASE__URL"], Push)
              if p.subject == f"notice:{notice_id.group(1)}"}  # not the demo notices
    assert pushed == {"crs-0", "crs-1"}

    unknown = run(["notify", "--audience", "course:NOPE", "--title", "x", "--body", "y"], env)
    assert unknown.returncode == 2 and "没有课程码为 NOPE 的课程" in unknown.stderr
    nobody = run(["notify", "--audience", "course:DX02", "--title", "x", "--body", "y"], env)
    assert nobody.returncode == 2 and "没有任何已登记的用户" in nobody.stderr


# --- import_courses underneath ---------------------------------------------------------------


def row(code: str, days: int, **kw: Any) -> dict[str, Any]:
    """A course row `days` after the tests' clock (2026-11-28 10:00 in Wujin)."""
    start = datetime(2026, 11, 28, 19, 30, tzinfo=SHANGHAI) + timedelta(days=days)
    return {"code": code, "title": f"课程{code}", "start": start.isoformat(),
            "end": (start + timedelta(hours=1)).isoformat(), "place": "湖塘红色驿站",
            "lat": 31.7093, "lng": 119.9512, "capacity": 2, "hours": 1, **kw}


async def test_a_refused_change_rolls_back_the_whole_file(sessions, clock) -> None:
    async with sessions() as s, s.begin():
        report = await import_courses(s, enumerate([row("A1", 3), row("B1", 4), row("C1", 5)],
                                                   2), 200, clock.now(), COURSE_TEXTS)
    assert report.added == ["A1", "B1", "C1"]
    async with sessions() as s, s.begin():
        c1 = await courses.by_code(s, "C1", lock=True)
        assert c1 is not None
        await lifecycle.cancel(s, c1, clock.now(), T.COURSE_CANCELLED)
    rows = [row("A1", 3, title="改了名的课"), row("B1", -1), row("C1", 5),
            row("D1", -2), row("E1", 6)]
    async with sessions() as s, s.begin():
        report = await import_courses(s, enumerate(rows, 2), 200, clock.now(), COURSE_TEXTS)
    assert (report.added, report.changed, report.unchanged) == ([], [], [])
    assert report.rejected == [(3, "B1：start 已经过去，不能新建或改到过去的时间"),
                               (4, "C1：课程已取消，不能再修改"),
                               (5, "D1：start 已经过去，不能新建或改到过去的时间")]
    async with sessions() as s:
        found = {c.code: c for c in (await s.exec(select(Course))).all()}
    assert sorted(found) == ["A1", "B1", "C1"]  # E1 not added
    assert found["A1"].title == "课程A1"  # the good change was rolled back too
    assert found["B1"].start_at == datetime.fromisoformat(row("B1", 4)["start"])
    assert found["C1"].status == "cancelled"


async def test_a_move_tells_the_enrolled_and_a_bigger_room_promotes(sessions, clock) -> None:
    async with sessions() as s, s.begin():
        await import_courses(s, [(2, row("A1", 3, capacity=1))], 200, clock.now(), COURSE_TEXTS)
        for i in range(2):
            m = Member(openid=f"o-{i}", name=f"学员{i}", consent_at=clock.now(),
                       created_at=clock.now())
            s.add(m)
            await s.flush()
            c = await courses.by_code(s, "A1", lock=True)
            assert c is not None
            await enrolment.enrol(s, c, m, clock.now())
    moved = row("A1", 4, capacity=2)
    async with sessions() as s, s.begin():
        report = await import_courses(s, [(2, moved)], 200, clock.now(), COURSE_TEXTS)
    assert report.changed == ["A1"]
    async with sessions() as s:
        c = await courses.by_code(s, "A1")
        assert c is not None and c.start_at == datetime.fromisoformat(moved["start"])
        statuses = (await s.exec(select(Enrolment.status))).all()
        pushes = [(p.openid, p.text[:6]) for p in (await s.exec(select(Push))).all()]
    assert statuses == ["enrolled", "enrolled"]  # the waitlisted one took the new seat
    assert sorted(pushes) == [("o-0", "【课程改期】"), ("o-1", "【候补成功】"),
                              ("o-1", "【课程改期】")]


async def test_course_audience_is_its_enrollees(sessions, clock) -> None:
    async with sessions() as s, s.begin():
        await import_courses(s, [(2, row("A1", 3)), (3, row("B1", 4))], 200, clock.now(),
                             COURSE_TEXTS)
        c = await courses.by_code(s, "A1")
        assert c is not None
        for i, status in enumerate(["enrolled", "waitlist", "cancelled", "enrolled"]):
            m = Member(openid=f"o-{i}", consent_at=clock.now(), created_at=clock.now(),
                       erased_at=clock.now() if i == 3 else None)
            s.add(m)
            await s.flush()
            s.add(Enrolment(course_id=c.id or 0, member_id=m.id or 0, status=status,
                            queued_at=clock.now()))
    async with sessions() as s, s.begin():
        assert await notices.resolve_audience(s, "course:a1") == ["o-0"]
        made = await notices.create(s, "课前准备", "带好党员证", "course:A1", clock.now())
        assert made.recipients == 1
        with pytest.raises(notices.NoticeError) as unknown:
            await notices.resolve_audience(s, "course:ZZ9")
        assert "没有课程码为 ZZ9 的课程" in T.notice_error(unknown.value.code,
                                                     unknown.value.details)
        with pytest.raises(notices.NoticeError) as nobody:
            await notices.resolve_audience(s, "course:B1")
        assert "没有任何已登记的用户" in T.notice_error(nobody.value.code, nobody.value.details)


async def test_the_sample_course_file_imports(sessions, clock) -> None:
    rows = read_rows(str(ROOT / "handlers" / "school" / "demo_courses.yaml"), "课程")
    async with sessions() as s, s.begin():
        report = await import_courses(s, rows, 200, clock.now(), COURSE_TEXTS)
    assert report.rejected == [] and len(report.added) == 4
    async with sessions() as s:
        found = (await s.exec(select(Course))).all()
    assert sum(c.online for c in found) == 1
    assert all(c.start_at.astimezone(SHANGHAI).date() >= datetime(2026, 12, 5).date()
               for c in found)
