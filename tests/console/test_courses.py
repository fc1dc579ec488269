"""The console's 小哥党校 pages: the course list with its filters and CSV, create and edit
with each field's error beside it, publish, move and cancel (the enrollees told), a course's
enrollees, attendance and waitlist, and who may see which course."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bot.clock import SHANGHAI
from models import course as courses
from tests.chat.test_school import new_course, pushes
from tests.conftest import Bot, BotFactory
from tests.console_util import csrf_of, login, make_user, page_csrf


def _local(bot: Bot, hours: float) -> str:
    return (bot.clock.now() + timedelta(hours=hours)).astimezone(SHANGHAI).strftime(
        "%Y-%m-%dT%H:%M")


def _form(bot: Bot, **over: Any) -> dict[str, Any]:
    return {"code": "KC1", "title": "网约车司机的安全课", "instructor": "", "description": "",
            "start": _local(bot, 48), "end": _local(bot, 50), "place": "湖塘红色驿站二楼",
            "lat": "31.7093", "lng": "119.9512", "radius_m": "150", "online_url": "",
            "capacity": "2", "hours": "1.5", "audience": "all", "status": "published",
            **over}


async def _post(bot: Bot, path: str, data: dict[str, Any], page: str = "/console/courses"
                ) -> Any:
    token = await page_csrf(bot.client, page)
    return await bot.client.post(path, data={"_csrf": token, **data}, allow_redirects=False)


async def _course(sessions, code: str) -> courses.Course:
    async with sessions() as s:
        c = await courses.by_code(s, code)
    assert c is not None
    return c


async def test_instructor_creates_publishes_and_sees_only_their_courses(
        make_bot: BotFactory, sessions) -> None:
    bot = await make_bot(background=False)
    await make_user(sessions, bot.clock, "teacher-wang", "instructor")
    await make_user(sessions, bot.clock, "teacher-li", "instructor")
    await make_user(sessions, bot.clock, "leader-zhou", "leader")
    await new_course(bot, code="API1", instructor="teacher-wang")  # taught by wang
    await new_course(bot, code="API2", instructor="王老师")  # nobody's console account
    await login(bot.client, "teacher-wang")

    form = await bot.client.get("/console/courses/new")
    html = await form.text()
    assert form.status == 200 and 'value="teacher-wang"' in html  # prefilled instructor
    created = await _post(bot, "/console/courses/new",
                          _form(bot, code="kc1", instructor="", status="draft"))
    assert created.status == 303, await created.text()
    assert created.headers["Location"] == "/console/courses/KC1?done=created"
    c = await _course(sessions, "KC1")
    assert c.status == "draft" and c.created_by == "console:teacher-wang"
    assert (c.lat, c.lng, c.capacity, c.hours) == (31.7093, 119.9512, 2, 1.5)

    listing = await (await bot.client.get("/console/courses")).text()
    assert "KC1" in listing and "API1" in listing and "API2" not in listing
    assert (await bot.client.get("/console/courses/API2")).status == 404
    assert (await bot.client.get("/console/courses/NOPE")).status == 404
    assert (await _post(bot, "/console/courses/API2/cancel", {"confirm": "yes"})).status == 404
    assert (await courses_status(sessions, "API2")) == "published"

    page = await bot.client.get("/console/courses/KC1")
    html = await page.text()
    assert page.status == 200 and "草稿" in html and "课程签到码 " in html
    assert "crs:KC1" not in html
    published = await _post(bot, "/console/courses/KC1/publish", {}, "/console/courses/KC1")
    assert published.headers["Location"] == "/console/courses/KC1?done=published"
    assert await courses_status(sessions, "KC1") == "published"
    html = await (await bot.client.get("/console/courses/KC1?done=published")).text()
    assert "课程已发布" in html and "/console/notices/new?audience=course:KC1" in html

    # another instructor, a leader: as if the course did not exist
    await bot.client.post("/console/logout", data={"_csrf": csrf_of(html)})
    await login(bot.client, "teacher-li")
    assert (await bot.client.get("/console/courses/KC1")).status == 404
    assert (await bot.client.get("/console/courses/KC1/edit")).status == 404
    assert (await bot.client.get("/console/courses/KC1?format=csv")).status == 404
    assert "KC1" not in await (await bot.client.get("/console/courses")).text()
    html = await (await bot.client.get("/console/courses")).text()
    await bot.client.post("/console/logout", data={"_csrf": csrf_of(html)})
    await login(bot.client, "leader-zhou")
    assert (await bot.client.get("/console/courses")).status == 404
    assert (await bot.client.get("/console/courses/KC1")).status == 404


async def courses_status(sessions, code: str) -> str:
    return (await _course(sessions, code)).status


async def test_a_bad_form_shows_each_error_beside_its_field(make_bot: BotFactory,
                                                            sessions) -> None:
    bot = await make_bot(background=False)
    await make_user(sessions, bot.clock, "admin-wu", "admin")
    await login(bot.client, "admin-wu")
    missing = await _post(bot, "/console/courses/new", _form(bot, title="", capacity=""))
    html = await missing.text()
    assert missing.status == 400
    assert html.count('class="field-error"') == 2 and "必填" in html
    assert 'value="湖塘红色驿站二楼"' in html  # what was typed is kept

    backwards = await _post(bot, "/console/courses/new",
                            _form(bot, end=_local(bot, 47)))
    html = await backwards.text()
    assert backwards.status == 400 and "结束时间 须晚于 开始时间" in html
    assert html.index("结束时间 须晚于") > html.index('id="f-end"')  # beside the end field

    past = await _post(bot, "/console/courses/new", _form(bot, start=_local(bot, -2),
                                                          end=_local(bot, -1)))
    assert past.status == 400 and "开始时间 已经过去" in await past.text()
    nowhere = await _post(bot, "/console/courses/new", _form(bot, lat="", lng="", place=""))
    assert nowhere.status == 400 and "线下课要写" in await nowhere.text()
    audience = await _post(bot, "/console/courses/new", _form(bot, audience="somewhere"))
    assert audience.status == 400 and "面向 须为" in await audience.text()
    coords = await _post(bot, "/console/courses/new", _form(bot, lat="abc"))
    assert coords.status == 400 and "坐标无效" in await coords.text()
    await new_course(bot, code="KC1")
    taken = await _post(bot, "/console/courses/new", _form(bot))
    assert taken.status == 400 and "已被占用" in await taken.text()
    async with sessions() as s:
        assert await courses.by_code(s, "KC2") is None


async def test_edit_move_and_cancel_tell_the_enrollees(make_bot: BotFactory,
                                                       sessions) -> None:
    bot = await make_bot(background=False)
    await make_user(sessions, bot.clock, "admin-wu", "admin")
    for i, name in enumerate(["甲一", "乙二", "丙三"]):
        await bot.phone(f"o-c{i}").register(name=name, mobile=f"1380013800{i}")
    await new_course(bot, code="KC1", capacity=2)
    for i in range(3):
        await bot.phone(f"o-c{i}").say("报名 KC1")
    await login(bot.client, "admin-wu")

    html = await (await bot.client.get("/console/courses/KC1")).text()
    assert "甲一" in html and "13800138000" in html  # an admin sees the whole phone
    assert "候补（1）" in html and "丙三" in html and "2/2" in html

    edit = await bot.client.get("/console/courses/KC1/edit")
    assert edit.status == 200 and 'value="31.7093"' in await edit.text()
    unchanged = await _post(bot, "/console/courses/KC1/edit", {
        **_values(await _course(sessions, "KC1"))}, "/console/courses/KC1/edit")
    assert unchanged.headers["Location"].endswith("done=unchanged")
    bad = await _post(bot, "/console/courses/KC1/edit", {
        **_values(await _course(sessions, "KC1")), "hours": "99"}, "/console/courses/KC1/edit")
    assert bad.status == 400 and "学时 须大于 0" in await bad.text()
    saved = await _post(bot, "/console/courses/KC1/edit", {
        **_values(await _course(sessions, "KC1")), "capacity": "3", "title": "新标题课程"},
        "/console/courses/KC1/edit")
    assert saved.headers["Location"].endswith("done=saved")
    c = await _course(sessions, "KC1")
    assert (c.title, c.capacity) == ("新标题课程", 3)
    assert {p.openid for p in await pushes(sessions, "promoted")} == {"o-c2"}

    wrong = await _post(bot, "/console/courses/KC1/move", {
        "start": _local(bot, 72), "end": _local(bot, 71)}, "/console/courses/KC1")
    html = await wrong.text()
    assert wrong.status == 400 and "结束时间 须晚于" in html
    assert html.index("结束时间 须晚于") > html.index('id="m-end"')
    moved = await _post(bot, "/console/courses/KC1/move", {
        "start": _local(bot, 72), "end": _local(bot, 74)}, "/console/courses/KC1")
    assert moved.headers["Location"].endswith("done=moved")
    assert (await _course(sessions, "KC1")).start_at == bot.clock.now() + timedelta(hours=72)
    assert {p.openid for p in await pushes(sessions, "moved")} == {"o-c0", "o-c1", "o-c2"}

    confirm = await bot.client.get("/console/courses/KC1/cancel")
    assert confirm.status == 200 and "已报名 3 人" in await confirm.text()
    not_confirmed = await _post(bot, "/console/courses/KC1/cancel", {}, "/console/courses/KC1")
    assert not_confirmed.status == 303 and await courses_status(sessions, "KC1") == "published"
    cancelled = await _post(bot, "/console/courses/KC1/cancel", {"confirm": "yes"},
                            "/console/courses/KC1")
    assert cancelled.headers["Location"].endswith("done=cancelled")
    assert await courses_status(sessions, "KC1") == "cancelled"
    assert {p.openid for p in await pushes(sessions, "cancelled")} == {"o-c0", "o-c1", "o-c2"}
    again = await _post(bot, "/console/courses/KC1/publish", {}, "/console/courses/KC1")
    assert again.status == 400 and "课程已取消" in await again.text()
    edit = await bot.client.get("/console/courses/KC1/edit")
    assert "课程已取消，不能再修改" in await edit.text()


def _values(c: courses.Course) -> dict[str, str]:
    from handlers.school.console import _values_of

    return _values_of(c)


async def test_attendance_waitlist_csv_and_qr(make_bot: BotFactory, sessions) -> None:
    bot = await make_bot(background=False)
    await make_user(sessions, bot.clock, "teacher-wang", "instructor")
    await make_user(sessions, bot.clock, "admin-wu", "admin")
    for i, name in enumerate(["甲一", "乙二", "丙三"]):
        await bot.phone(f"o-a{i}").register(name=name, mobile=f"1390013900{i}")
    await new_course(bot, code="KC1", hours_ahead=1, capacity=2, instructor="teacher-wang")
    for i in range(3):
        await bot.phone(f"o-a{i}").say("报名 KC1")
    bot.clock.advance(minutes=40)
    await bot.phone("o-a0").say("签到 KC1")
    bot.clock.advance(minutes=30)  # started
    await login(bot.client, "teacher-wang")

    html = await (await bot.client.get("/console/courses/KC1")).text()
    assert "13900139000" not in html and "139****9000" in html  # masked for an instructor
    assert "到课" in html and "未到" in html and "签到码" in html
    assert html.index("乙二") < html.index("候补（1）") < html.index("丙三")

    export = await bot.client.get("/console/courses/KC1?format=csv")
    body = (await export.read()).decode("utf-8-sig")
    assert export.headers["Content-Type"].startswith("text/csv")
    lines = body.strip().splitlines()
    assert lines[0] == "姓名,手机,状态,报名时间,到课时间,签到方式"
    assert lines[1].startswith("甲一,139****9000,到课,") and lines[1].endswith(",签到码")
    assert lines[2].startswith("乙二,139****9001,未到,")
    assert lines[3].startswith("丙三,139****9002,候补,")

    listing = await bot.client.get("/console/courses?format=csv&when=upcoming")
    rows = (await listing.read()).decode("utf-8-sig").strip().splitlines()
    assert rows[0].startswith("课程代码,课程名称") and rows[1].startswith("KC1,")
    assert ",2,2,1,1," in rows[1]  # enrolled, capacity, waitlist, present
    assert len((await (await bot.client.get("/console/courses?format=csv&when=past")
                       ).read()).decode("utf-8-sig").strip().splitlines()) == 1
    html = await (await bot.client.get("/console/courses?q=kc")).text()
    assert "KC1" in html and "2/2" in html
    html = await (await bot.client.get("/console/courses?q=没有这个&status=draft")).text()
    assert "没有符合条件的课程" in html

    png = await bot.client.get("/console/courses/KC1/qr.png")
    assert png.status == 200 and (await png.read())[:4] == b"\x89PNG"

    await bot.client.post("/console/logout", data={"_csrf": csrf_of(html)})
    await login(bot.client, "admin-wu")
    body = (await (await bot.client.get("/console/courses/KC1?format=csv")).read()
            ).decode("utf-8-sig")
    assert "13900139000" in body  # the admin's export has the whole phone


async def test_the_audience_is_picked_from_a_list(make_bot: BotFactory, sessions) -> None:
    """面向: 全体成员, one of the seven industries or a group by its name — chosen, not typed;
    a bad form keeps the choice; the course page says it in words."""
    from tests.chat.test_groups import new_group

    bot = await make_bot(background=False)
    await make_user(sessions, bot.clock, "teacher-wang", "instructor")
    code = await new_group(sessions, bot.clock, "湖塘外卖骑手党小组")
    await login(bot.client, "teacher-wang")
    form = await (await bot.client.get("/console/courses/new")).text()
    assert '<select id="f-audience" name="audience"' in form
    assert '<option value="all" selected>全体成员</option>' in form
    assert '<option value="industry:外卖送餐">行业：外卖送餐</option>' in form
    assert form.count('<option value="industry:') == 7
    assert f'<option value="group:{code}">小组：湖塘外卖骑手党小组</option>' in form
    assert "industry:外卖送餐）" not in form and "group:小组邀请码" not in form
    bad = await _post(bot, "/console/courses/new", _form(bot, audience=f"group:{code}",
                                                         title=""), "/console/courses/new")
    html = await bad.text()
    assert bad.status == 400 and f'<option value="group:{code}" selected>' in html
    made = await _post(bot, "/console/courses/new", _form(bot, audience=f"group:{code}"),
                       "/console/courses/new")
    assert made.status == 303, await made.text()
    assert (await _course(sessions, "KC1")).audience == f"group:{code}"
    page = await (await bot.client.get("/console/courses/KC1")).text()
    assert "<td>小组：湖塘外卖骑手党小组</td>" in page and f"group:{code}" not in page
