"""The console's 成员, 小组 and 驿站 pages: who sees which members (phones masked except for
admins), console accounts without secrets, groups with their activities' roll, station
editing with field errors, an all-or-nothing CSV upload, QR codes, flagged check-ins, CSV
exports, and 404s for everyone else."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from aiohttp import FormData
from sqlmodel import select

from models import activity as activities
from models import group as groups
from models.member import Member
from models.station import Station
from models.station_import import import_stations
from tests.chat.test_groups import new_group
from tests.chat.test_school import new_course
from tests.chat.test_stations import STATIONS
from tests.conftest import Bot, BotFactory
from tests.console_util import login, make_user, page_csrf


async def as_user(bot: Bot, username: str) -> None:
    bot.client.session.cookie_jar.clear()
    resp = await login(bot.client, username)
    assert resp.status == 303


async def text_of(bot: Bot, path: str, status: int = 200) -> str:
    resp = await bot.client.get(path)
    body = await resp.text()
    assert resp.status == status, (path, resp.status, body[:300])
    return body


async def csv_of(bot: Bot, path: str) -> str:
    resp = await bot.client.get(path)
    assert resp.status == 200 and resp.headers["Content-Type"].startswith("text/csv")
    return (await resp.read()).decode("utf-8-sig")


@pytest.fixture
async def people(make_bot: BotFactory, sessions) -> tuple[Bot, str, str]:
    """Two groups (one led by leader-wang), three members, a course of teacher-li."""
    bot = await make_bot(background=False)
    for name, role in (("admin-wu", "admin"), ("leader-wang", "leader"),
                       ("leader-zhou", "leader"), ("teacher-li", "instructor"),
                       ("officer-he", "officer")):
        await make_user(sessions, bot.clock, name, role)
    mine = await new_group(sessions, bot.clock, "湖塘外卖骑手党小组", leader_name="leader-wang")
    other = await new_group(sessions, bot.clock, "牛塘快递党小组", "快递物流",
                            leader_name="leader-zhou")
    await new_course(bot, code="DX1", instructor="teacher-li")
    riders = [("o-a", "张三", "13800138001", mine), ("o-b", "李四", "13900139002", other),
              ("o-c", "王五", "13700137003", None)]
    for openid, name, mobile, code in riders:
        p = bot.phone(openid)
        await p.register(name=name, mobile=mobile)
        if code:
            await p.say(f"加入小组 {code}")
    await bot.phone("o-c").say("报名 DX1")
    async with sessions() as s, s.begin():  # 李四 is a 群众 in 快递物流
        li = (await s.exec(select(Member).where(Member.openid == "o-b"))).one()
        li.industry, li.party_status = "快递物流", "群众"
        s.add(li)
    return bot, mine, other


async def test_members_by_role_with_masked_phones(people: tuple[Bot, str, str]) -> None:
    bot, mine, other = people
    await as_user(bot, "admin-wu")
    html = await text_of(bot, "/console/members")
    assert all(n in html for n in ("张三", "李四", "王五")) and "13800138001" in html
    assert "湖塘外卖骑手党小组" in html and "共3人" in html
    assert "王五" in await text_of(bot, "/console/members?q=王")
    html = await text_of(bot, "/console/members?q=9002")  # the phone's tail
    assert "李四" in html and "张三" not in html
    html = await text_of(bot, "/console/members?industry=快递物流&party=群众")
    assert "李四" in html and "张三" not in html and "王五" not in html
    html = await text_of(bot, f"/console/members?group={mine}")
    assert "张三" in html and "李四" not in html
    assert "共0人" in await text_of(bot, "/console/members?q=%25")  # no wildcard: nobody
    bad = await text_of(bot, "/console/members?industry=火星", 400)
    assert "没有这个行业" in bad and 'class="field-error"' in bad
    csv = await csv_of(bot, "/console/members?format=csv")
    assert csv.splitlines()[0] == "姓名,手机,行业,平台,政治面貌,小组,积分,登记日期"
    assert "13800138001" in csv and "李四" in csv

    await as_user(bot, "leader-wang")
    html = await text_of(bot, "/console/members")
    assert "张三" in html and "李四" not in html and "王五" not in html
    assert "138****8001" in html and "13800138001" not in html
    assert "李四" not in await text_of(bot, f"/console/members?group={other}")
    refused = await text_of(bot, "/console/members?q=138001", 400)  # more than the tail
    assert "尾号后4位" in refused
    csv = await csv_of(bot, "/console/members?format=csv")
    assert "138****8001" in csv and "13800138001" not in csv and "李四" not in csv
    assert (await bot.client.get("/console/members/staff")).status == 404

    await as_user(bot, "teacher-li")
    html = await text_of(bot, "/console/members")
    assert "王五" in html and "张三" not in html and "137****7003" in html

    await as_user(bot, "officer-he")
    assert (await bot.client.get("/console/members")).status == 404
    assert (await bot.client.get("/console/members?format=csv")).status == 404


async def test_console_accounts_for_admins_only(people: tuple[Bot, str, str]) -> None:
    bot, _, _ = people
    await as_user(bot, "admin-wu")
    html = await text_of(bot, "/console/members/staff")
    assert "leader-wang" in html and "党小组长" in html and "网格员" in html
    assert "argon2" not in html and "password" not in html
    csv = await csv_of(bot, "/console/members/staff?format=csv")
    assert "teacher-li,讲师" in csv and "argon2" not in csv


async def test_groups_and_the_roll_of_activities(people: tuple[Bot, str, str],
                                                 sessions) -> None:
    bot, mine, other = people
    await bot.phone("o-c").say(f"加入小组 {mine}")
    async with sessions() as s, s.begin():
        group = await groups.by_code(s, mine)
        assert group is not None
        start = bot.clock.now() + timedelta(hours=1)
        done = await activities.schedule(s, group, "党小组会", "学习二十大精神", start,
                                         start + timedelta(hours=1), bot.clock.now(),
                                         place="湖塘驿站", text="{what}")
        await activities.schedule(s, group, "党课", "下周的党课", start + timedelta(days=7),
                                  start + timedelta(days=7, hours=1), bot.clock.now(),
                                  text="{what}")
        wang = (await s.exec(select(Member).where(Member.openid == "o-c"))).one()
        await activities.ask_leave(s, done, wang, "跑单", bot.clock.now())
        group_id, other_id = group.id, (await groups.by_code(s, other)).id  # type: ignore[union-attr]
    bot.clock.advance(hours=1, minutes=10)
    await bot.phone("o-a").say("到")
    bot.clock.advance(hours=1)  # the meeting is over

    await as_user(bot, "admin-wu")
    html = await text_of(bot, "/console/groups")
    assert "湖塘外卖骑手党小组" in html and "牛塘快递党小组" in html and mine in html
    assert "leader-wang" in html
    csv = await csv_of(bot, "/console/groups?format=csv")
    assert f"湖塘外卖骑手党小组,外卖送餐,leader-wang,{mine},2," in csv
    html = await text_of(bot, f"/console/groups/{other_id}")
    assert "李四" in html and "139****9002" in html and "13900139002" not in html
    csv = await csv_of(bot, f"/console/groups/{other_id}?format=csv")
    assert "13900139002" in csv  # an admin's export keeps the whole phone

    await as_user(bot, "leader-wang")
    html = await text_of(bot, "/console/groups")
    assert "湖塘外卖骑手党小组" in html and "牛塘快递党小组" not in html
    html = await text_of(bot, f"/console/groups/{group_id}")
    assert "学习二十大精神" in html and "下周的党课" in html
    assert "到 1" in html and "请假 1" in html and "跑单" in html
    assert "138****8001" in html and "13800138001" not in html
    csv = await csv_of(bot, f"/console/groups/{group_id}?format=csv")
    assert "张三,138****8001" in csv and "王五" in csv
    roll = await csv_of(bot, f"/console/groups/{group_id}/activities/{done.id}.csv")
    assert "张三,到" in roll and "王五,请假,跑单" in roll
    png = await bot.client.get(f"/console/groups/{group_id}/qr.png")
    assert png.status == 200 and (await png.read()).startswith(b"\x89PNG")
    for path in (f"/console/groups/{other_id}", f"/console/groups/{other_id}?format=csv",
                 f"/console/groups/{other_id}/qr.png",
                 f"/console/groups/{other_id}/activities/{done.id}.csv"):
        assert (await bot.client.get(path)).status == 403, path  # another group: refused
    assert (await bot.client.get("/console/groups/999999")).status == 404
    assert (await bot.client.get(f"/console/groups/{group_id}/activities/999.csv")
            ).status == 404

    for who in ("teacher-li", "officer-he"):
        await as_user(bot, who)
        assert (await bot.client.get("/console/groups")).status == 404
        assert (await bot.client.get(f"/console/groups/{group_id}")).status == 404


@pytest.fixture
async def stations_bot(make_bot: BotFactory, sessions) -> Bot:
    bot = await make_bot(background=False)
    await make_user(sessions, bot.clock, "admin-wu", "admin")
    await make_user(sessions, bot.clock, "leader-wang", "leader")
    async with sessions() as s, s.begin():
        report = await import_stations(s, enumerate(STATIONS, 2), 200, bot.clock.now())
        assert not report.rejected
    return bot


async def station(sessions, code: str) -> Station:
    async with sessions() as s:
        return (await s.exec(select(Station).where(Station.code == code))).one()


async def test_station_list_edit_and_qr(stations_bot: Bot, sessions) -> None:
    bot = stations_bot
    p = bot.phone("o-far")
    await p.register()
    await p.event("SCAN", "st:HT01")
    bot.clock.advance(minutes=5)
    await p.event("SCAN", "st:XY01")  # 20 km in 5 minutes: flagged, still counted
    await as_user(bot, "admin-wu")
    html = await text_of(bot, "/console/stations")
    assert "湖塘驿站" in html and "雪堰驿站" in html and "服务吧" in html
    csv = await csv_of(bot, "/console/stations?format=csv")
    assert csv.splitlines()[0].startswith("code,name,kind")
    assert any(line.startswith("HT01,湖塘驿站") and line.endswith(",是,1")
               for line in csv.splitlines())
    assert "雪堰驿站" not in await text_of(bot, "/console/stations?kind=服务吧")
    flagged = await text_of(bot, "/console/stations/flagged")
    assert "雪堰驿站" in flagged and "只隔5分钟" in flagged
    assert "只隔5分钟" in await csv_of(bot, "/console/stations/flagged?format=csv")

    ht02 = await station(sessions, "HT02")
    path = f"/console/stations/{ht02.id}/edit"
    html = await text_of(bot, path)
    assert 'value="延政路服务吧"' in html and "一至五 08:00-18:00" in html
    token = await page_csrf(bot.client, path)
    form: dict[str, Any] = {"_csrf": token, "name": "", "address": "延政中路1号",
                            "radius_m": "九十", "hours": "早上八点", "services": "饮水、充电",
                            "phone": "0519-1234", "active": "1"}
    bad = await bot.client.post(path, data=form, allow_redirects=False)
    html = await bad.text()
    assert bad.status == 400 and html.count('class="field-error"') == 3
    assert "必填" in html and "不是数字" in html and "营业时间" in html
    assert 'value="延政中路1号"' in html and 'value="九十"' in html  # kept as typed
    far = await bot.client.post(path, data={**form, "name": "延政路服务吧", "radius_m": "9000",
                                            "hours": "08:00-20:00"}, allow_redirects=False)
    assert far.status == 400 and "10 到 5000" in await far.text()
    assert (await station(sessions, "HT02")).name == "延政路服务吧"  # nothing changed
    good = await bot.client.post(path, data={
        **form, "name": "延政路红色服务吧", "radius_m": "150", "hours": "24h", "active": ""},
        allow_redirects=False)
    assert good.status == 303
    assert "已保存" in await text_of(bot, good.headers["Location"])
    changed = await station(sessions, "HT02")
    assert (changed.name, changed.radius_m, changed.hours_text, changed.active) == (
        "延政路红色服务吧", 150, "24h", False)
    assert changed.services == ["饮水", "充电"] and changed.address == "延政中路1号"
    png = await bot.client.get(f"/console/stations/{ht02.id}/qr.png")
    assert png.status == 200 and png.headers["Content-Type"] == "image/png"
    assert (await png.read()).startswith(b"\x89PNG")
    assert (await bot.client.get("/console/stations/999999/edit")).status == 404

    await as_user(bot, "leader-wang")
    for hidden in ("/console/stations", "/console/stations?format=csv", path,
                   f"/console/stations/{ht02.id}/qr.png", "/console/stations/flagged",
                   "/console/stations/import"):
        assert (await bot.client.get(hidden)).status == 404, hidden
    token = await page_csrf(bot.client, "/console/members")
    posted = await bot.client.post(f"/console/stations/{ht02.id}/edit", data={
        **form, "_csrf": token, "name": "被改了", "radius_m": "100", "hours": "24h"},
        allow_redirects=False)
    assert posted.status == 404
    assert (await station(sessions, "HT02")).name == "延政路红色服务吧"


async def upload(bot: Bot, content: bytes, filename: str = "stations.csv") -> Any:
    token = await page_csrf(bot.client, "/console/stations/import")
    data = FormData()
    data.add_field("_csrf", token)
    data.add_field("file", content, filename=filename, content_type="text/csv")
    return await bot.client.post("/console/stations/import", data=data)


HEADER = "code,name,kind,address,lat,lng,datum,radius_m,services,hours,phone\n"


async def test_station_import_is_all_or_nothing(stations_bot: Bot, sessions) -> None:
    bot = stations_bot
    await as_user(bot, "admin-wu")
    assert "上传并导入" in await text_of(bot, "/console/stations/import")
    xlsx = await upload(bot, b"PK\x03\x04\x00\x00binary", "stations.xlsx")
    assert xlsx.status == 400 and "这不是 CSV 文件" in await xlsx.text()
    header = await upload(bot, "名称,地址\n湖塘,武进\n".encode())
    assert header.status == 400 and "表头缺少列" in await header.text()
    broken = (HEADER
              + "NEW1,新驿站,驿站,,31.70,119.95,,,饮水,24h,\n"
              + "NEW2,坏驿站,驿站,,91,119.95,,,饮水,24h,\n"
              + "NEW3,坏时间,驿站,,31.70,119.95,,,饮水,八点到六点,\n"
              + "NEW4,多一列,驿站,,31.70,119.95,,,饮水,24h,,多余\n")
    resp = await upload(bot, broken.encode())
    html = await resp.text()
    assert resp.status == 400 and "未导入任何驿站：3 行有误" in html
    assert "第3行" in html and "第4行" in html and "第5行" in html and "第2行" not in html
    async with sessions() as s:
        assert (await s.exec(select(Station).where(Station.code == "NEW1"))).first() is None
    good = (HEADER + "NEW1,新驿站,驿站,,31.70,119.95,wgs84,150,饮水、充电,24h,\n"
            + "HT01,湖塘驿站（新址）,驿站,,31.7093,119.9512,,200,饮水,24h,\n")
    resp = await upload(bot, good.encode("gb18030"))  # as Excel in Chinese saves it
    html = await resp.text()
    assert resp.status == 200 and "新增 1，更新 1" in html
    assert (await station(sessions, "NEW1")).radius_m == 150
    assert (await station(sessions, "HT01")).name == "湖塘驿站（新址）"
    nothing = await bot.client.post("/console/stations/import", data={
        "_csrf": await page_csrf(bot.client, "/console/stations/import")})
    assert nothing.status == 400 and "请选择" in await nothing.text()
