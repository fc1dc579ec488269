"""The console's 通知 pages: compose with a recipient preview, role rules on audiences, now or
scheduled, the list and a detail page whose counts follow the outbox, CSV, and 404s."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta
from typing import Any

from sqlmodel import select

from bot.app import SERVICES
from bot.clock import SHANGHAI
from bot.dev.sandbox.core import Grant
from models import staff
from models.notice import Notice
from models.outbox import Push
from tests.chat.test_groups import new_group
from tests.chat.test_school import new_course
from tests.conftest import Bot, BotFactory
from tests.console_util import csrf_of, login, make_user, page_csrf

FORM = "/console/notices/new"


async def post_form(bot: Bot, **fields: Any) -> Any:
    token = await page_csrf(bot.client, FORM)
    data = {"_csrf": token, "action": "send", "when": "now", "title": "", "body": "",
            "url": "", "audience": "all", "member_q": "", "send_at": "", **fields}
    return await bot.client.post(FORM, data=data, allow_redirects=False)


async def pushes(sessions, subject: str) -> list[Push]:
    async with sessions() as s:
        return list((await s.exec(select(Push).where(Push.subject == subject))).all())


async def notices_in(sessions) -> list[Notice]:
    async with sessions() as s:
        return list((await s.exec(select(Notice).order_by(Notice.id))).all())


async def test_admin_previews_sends_and_watches_the_counts(make_bot: BotFactory,
                                                          sessions) -> None:
    bot = await make_bot()  # with the outbox worker: the pushes really go out
    for i, name in enumerate(["骑手甲", "骑手乙"]):
        await bot.phone(f"o-n{i}").register(name=name, mobile=f"1380013800{i}")
    await make_user(sessions, bot.clock, "admin-wu", "admin")
    await login(bot.client, "admin-wu")
    form = await bot.client.get(FORM)
    html = await form.text()
    assert form.status == 200 and "全体成员" in html and "行业：外卖送餐" in html
    assert "openid" not in html and 'id="member-pick" hidden' in html  # only for 单个成员
    preview = await post_form(bot, action="preview", audience="industry:外卖送餐",
                              title="先看人数")
    html = await preview.text()
    assert preview.status == 200 and "将发送给 <b>2</b> 人" in html
    assert 'value="先看人数"' in html  # what was typed stays
    assert await notices_in(sessions) == []  # a preview creates nothing
    nobody = await post_form(bot, action="preview", audience="industry:网络主播")
    assert nobody.status == 400 and "没有任何已登记的用户" in await nobody.text()

    sent = await post_form(bot, title="驿站停水通知", body="明天湖塘驿站停水一天。",
                           audience="all")
    assert sent.status == 303, await sent.text()
    where = sent.headers["Location"]
    assert re.fullmatch(r"/console/notices/\d+", where)
    [notice] = await notices_in(sessions)
    assert notice.created_by == "console:admin-wu" and notice.status == "sent"
    assert len(await pushes(sessions, notice.subject)) == 2
    page = await bot.client.get(where)
    html = await page.text()
    assert page.status == 200 and "驿站停水通知" in html and "counts.json" in html
    for _ in range(100):  # the worker sends in the background; the JSON follows it
        counts = await (await bot.client.get(where + "/counts.json")).json()
        if counts["pending"] == 0:
            break
        await asyncio.sleep(0.05)
    assert counts["total"] == 2 and counts["sent"] == 2 and counts["kefu"] == 2
    assert counts["failed"] == 0 and counts["reasons"] == []
    assert len(bot.sandbox.delivered("o-n0")) == 1
    listing = await (await bot.client.get("/console/notices")).text()
    assert "驿站停水通知" in listing and "已发出" in listing
    csv = await bot.client.get("/console/notices?format=csv")
    body = (await csv.read()).decode("utf-8-sig")
    assert csv.headers["Content-Type"].startswith("text/csv")
    assert body.splitlines()[0].startswith("编号,标题,受众")
    assert "驿站停水通知" in body and "全体成员" in body and "控制台 · admin-wu" in body


async def test_a_bad_form_shows_each_error_beside_its_field(make_bot: BotFactory,
                                                            sessions) -> None:
    bot = await make_bot(background=False)
    await bot.phone("o-n0").register()
    await make_user(sessions, bot.clock, "admin-wu", "admin")
    await login(bot.client, "admin-wu")
    empty = await post_form(bot, url="ftp://x", audience="industry:网约车")
    html = await empty.text()
    assert empty.status == 400
    assert html.count('class="field-error"') >= 2
    assert "标题不能为空" in html and "正文不能为空" in html
    long_body = await post_form(bot, title="长文", body="很长" * 700)
    html = await long_body.text()
    assert long_body.status == 400 and "正文过长" in html and "很长很长" in html
    bad_url = await post_form(bot, title="链接", body="正文", url="ftp://x")
    assert bad_url.status == 400 and "链接须以 http:// 或 https:// 开头" in await bad_url.text()
    past = await post_form(bot, title="定时", body="正文", when="later",
                           send_at="2026-11-28T09:00")
    assert past.status == 400 and "须晚于现在" in await past.text()
    garbage = await post_form(bot, title="定时", body="正文", when="later", send_at="明天")
    assert garbage.status == 400 and "请选择发送时间" in await garbage.text()
    unknown = await post_form(bot, title="通知", body="正文", audience="member:o-nobody")
    html = await unknown.text()
    assert unknown.status == 400 and "没有找到这位成员" in html
    assert ">单个成员 已注销的成员</option>" in html  # what was asked stays chosen, in words
    unchosen = await post_form(bot, title="通知", body="正文", audience="member:",
                               member_q="张")
    html = await unchosen.text()
    assert unchosen.status == 400 and "请在下面选择一位成员" in html
    assert 'value="张"' in html and 'value="通知"' in html  # what was typed stays
    gone = await post_form(bot, title="通知", body="正文", audience="member:",
                           member_id="999999")
    assert gone.status == 400 and "没有找到这位成员" in await gone.text()
    assert await notices_in(sessions) == []


async def test_a_scheduled_notice_waits(make_bot: BotFactory, sessions) -> None:
    bot = await make_bot(background=False)
    await bot.phone("o-n0").register()
    await make_user(sessions, bot.clock, "admin-wu", "admin")
    await login(bot.client, "admin-wu")
    at = (bot.clock.now() + timedelta(days=1)).astimezone(SHANGHAI)
    resp = await post_form(bot, title="明早开会", body="九点湖塘驿站。", when="later",
                           send_at=at.strftime("%Y-%m-%dT%H:%M"), audience="member:o-n0")
    assert resp.status == 303
    [notice] = await notices_in(sessions)
    assert notice.status == "scheduled" and notice.send_at == at.replace(second=0,
                                                                         microsecond=0)
    assert await pushes(sessions, notice.subject) == []
    html = await (await bot.client.get(resp.headers["Location"])).text()
    assert "定时待发" in html


async def test_leaders_and_instructors_send_only_to_their_own(make_bot: BotFactory,
                                                              sessions) -> None:
    bot = await make_bot(background=False)
    await make_user(sessions, bot.clock, "leader-wang", "leader")
    await make_user(sessions, bot.clock, "teacher-li", "instructor")
    await make_user(sessions, bot.clock, "teacher-zhao", "instructor")
    await make_user(sessions, bot.clock, "officer-he", "officer")
    mine = await new_group(sessions, bot.clock, "湖塘外卖骑手党小组", leader_name="leader-wang")
    other = await new_group(sessions, bot.clock, "牛塘快递党小组", "快递物流")
    await new_course(bot, code="DX1", instructor="teacher-li")
    await new_course(bot, code="DX2", instructor="teacher-zhao")
    for i, code in enumerate((mine, other)):
        p = bot.phone(f"o-g{i}")
        await p.register(name=f"成员{'甲乙'[i]}")
        await p.say(f"加入小组 {code}")
        await p.say(f"报名 DX{i + 1}")

    await login(bot.client, "leader-wang")
    form = await (await bot.client.get(FORM)).text()
    assert "我的小组：湖塘外卖骑手党小组" in form and "全体成员" not in form
    assert "member-pick" not in form  # only admins address one member
    for audience in ("all", f"group:{other}", "course:DX1", "member:o-g0"):
        refused = await post_form(bot, title="通知", body="正文", audience=audience)
        assert refused.status == 400 and "无权向该受众发送" in await refused.text(), audience
    ok = await post_form(bot, title="小组会", body="周五开会", audience=f"group:{mine.lower()}")
    assert ok.status == 303
    leader_notice = ok.headers["Location"]

    bot.client.session.cookie_jar.clear()
    await login(bot.client, "teacher-li")
    form = await (await bot.client.get(FORM + "?audience=course:DX1")).text()
    assert 'value="course:DX1" selected' in form and "course:DX2" not in form
    preview = await post_form(bot, action="preview", audience="course:DX1")
    assert "将发送给 <b>1</b> 人" in await preview.text()
    refused = await post_form(bot, title="通知", body="正文", audience="course:DX2")
    assert refused.status == 400 and "无权向该受众发送" in await refused.text()
    ok = await post_form(bot, title="带好笔记本", body="明天上课", audience="course:DX1")
    assert ok.status == 303
    li_notice = ok.headers["Location"]
    assert (await bot.client.get(leader_notice)).status == 404  # not theirs
    assert (await bot.client.get(leader_notice + "/counts.json")).status == 404
    listing = await (await bot.client.get("/console/notices")).text()
    assert "带好笔记本" in listing and "小组会" not in listing

    bot.client.session.cookie_jar.clear()
    await login(bot.client, "teacher-zhao")
    assert (await bot.client.get(li_notice)).status == 404
    csv = (await (await bot.client.get("/console/notices?format=csv")).read()).decode()
    assert "带好笔记本" not in csv

    bot.client.session.cookie_jar.clear()
    await login(bot.client, "officer-he")
    assert (await bot.client.get("/console/notices")).status == 404
    assert (await bot.client.get(FORM)).status == 404
    assert (await bot.client.get(li_notice)).status == 404
    home = await (await bot.client.get("/console/")).text()
    assert "/console/notices" not in home  # not in the officer's menu
    token = csrf_of(home)
    posted = await bot.client.post(FORM, data={"_csrf": token, "title": "x", "body": "y",
                                               "audience": "all"}, allow_redirects=False)
    assert posted.status == 404
    assert len(await notices_in(sessions)) == 2

    bot.client.session.cookie_jar.clear()
    await make_user(sessions, bot.clock, "admin-wu", "admin")
    await login(bot.client, "admin-wu")
    listing = await (await bot.client.get("/console/notices")).text()
    assert "带好笔记本" in listing and "小组会" in listing
    assert (await bot.client.get(li_notice)).status == 200
    assert (await bot.client.get("/console/notices/999999")).status == 404


async def test_an_admin_picks_one_member_by_name(make_bot: BotFactory, sessions) -> None:
    """单个成员: found by name or a phone's tail, chosen from a list showing the name and a
    masked phone, never an openid; the notice's pages say who it went to in words."""
    bot = await make_bot(background=False)
    await bot.phone("o-pick-1").register(name="张三", mobile="13800138001")
    await bot.phone("o-pick-2").register(name="李四", mobile="13900139002")
    await make_user(sessions, bot.clock, "admin-wu", "admin")
    await login(bot.client, "admin-wu")
    found = await post_form(bot, action="find", audience="member:", member_q="9002",
                            title="只给一个人")
    html = await found.text()
    assert found.status == 200 and 'id="member-pick">' in html  # shown for 单个成员
    assert "李四 139****9002" in html and "张三" not in html and "o-pick" not in html
    assert 'value="只给一个人"' in html
    member_id = re.search(r'<option value="(\d+)">李四', html)
    assert member_id
    preview = await post_form(bot, action="preview", audience="member:",
                              member_id=member_id.group(1))
    assert "将发送给 <b>1</b> 人" in await preview.text()
    sent = await post_form(bot, title="只给一个人", body="您的证件已办好。", audience="member:",
                           member_id=member_id.group(1))
    assert sent.status == 303, await sent.text()
    [notice] = await notices_in(sessions)
    assert notice.audience == "member:o-pick-2"  # the API's form, as before
    page = await (await bot.client.get(sent.headers["Location"])).text()
    assert "单个成员 李四" in page and "o-pick" not in page
    assert "控制台 · admin-wu" in page  # no display name: the login is all there is
    listing = await (await bot.client.get("/console/notices")).text()
    assert "单个成员 李四" in listing and "o-pick" not in listing
    none = await post_form(bot, action="find", audience="member:", member_q="王五")
    assert "没有找到姓名或手机尾号为「王五」的已登记成员" in await none.text()


async def test_a_group_notice_reads_in_words(make_bot: BotFactory, sessions) -> None:
    """A notice to a group, sent by a leader whose WeChat is bound: the pages name the group
    and the leader by name, not by invite code or login."""
    bot = await make_bot(background=False)
    await make_user(sessions, bot.clock, "leader-wang", "leader")
    code = await new_group(sessions, bot.clock, "湖塘外卖骑手党小组", leader_name="leader-wang")
    rider = bot.phone("o-wg-1")
    await rider.register(name="成员甲")
    await rider.say(f"加入小组 {code}")
    leader_phone = bot.phone("o-wang")
    await leader_phone.register(name="王组长", mobile="13700137000")
    async with sessions() as s, s.begin():  # bind the leader's WeChat (绑定 CODE)
        user = await staff.user_named(s, "leader-wang")
        assert user is not None
        bind = await staff.issue_bind_code(s, user, bot.clock.now())
    assert "绑定成功" in (await leader_phone.say(f"绑定 {bind}") or "")
    await login(bot.client, "leader-wang")
    sent = await post_form(bot, title="小组会", body="周五开会", audience=f"group:{code}")
    assert sent.status == 303, await sent.text()
    page = await (await bot.client.get(sent.headers["Location"])).text()
    assert "小组：湖塘外卖骑手党小组" in page and "控制台 · 王组长" in page
    assert f"group:{code}" not in page and "leader-wang" not in page


async def test_the_notice_page_shows_channels_and_wechats_receipts(make_bot: BotFactory,
                                                                   sessions) -> None:
    """Outside the 客服 window one member holds a 订阅通知 grant and one does not (template);
    their receipts come back as callbacks and the page and its JSON count them."""
    bot = await make_bot(background=False)
    for i, name in enumerate(["骑手甲", "骑手乙"]):
        await bot.phone(f"o-r{i}").register(name=name, mobile=f"1380013801{i}")
    bot.clock.advance(days=3)
    await bot.post(bot.peer.subscribe_popup("o-r0", {"demo-sub-notice": "accept"},
                                            create_time=bot.now_ts))
    bot.sandbox.state.grants[("o-r0", "demo-sub-notice")] = Grant(one_time=1)
    bot.sandbox.state.template_blocked.add("o-r1")
    await make_user(sessions, bot.clock, "admin-rc", "admin")
    await login(bot.client, "admin-rc")
    sent = await post_form(bot, title="回执测试", body="看看回执", audience="all")
    assert sent.status == 303, await sent.text()
    where = sent.headers["Location"]
    worker = bot.client.server.app[SERVICES].worker
    assert worker is not None
    [notice] = await notices_in(sessions)
    assert await worker.drain(notice.subject, timeout_s=20)
    for openid in ("o-r0", "o-r1"):
        [m] = bot.sandbox.delivered(openid)
        await bot.post(bot.peer.receipt(openid, m["receipt"], create_time=bot.now_ts))
    counts = await (await bot.client.get(where + "/counts.json")).json()
    assert (counts["subscribe"], counts["template"], counts["kefu"]) == (1, 1, 0)
    assert (counts["delivered"], counts["blocked"], counts["awaiting"]) == (1, 1, 0)
    html = await (await bot.client.get(where)).text()
    assert "微信回执" in html and "订阅通知" in html
    assert re.search(r'用户拒收 <b data-k="blocked">1</b>', html)
