"""The console's front door: login through the real form, CSRF, throttling, expiry, logout,
roles, and the dashboard's numbers."""

from __future__ import annotations

from datetime import timedelta

from tests.chat.test_school import new_course
from tests.conftest import Bot, BotFactory
from tests.console_util import PASSWORD, csrf_of, login, make_user, page_csrf


async def test_login_logout_and_the_dashboard(make_bot: BotFactory, sessions) -> None:
    bot: Bot = await make_bot()
    client = bot.client
    first = await client.get("/console/", allow_redirects=False)
    assert first.status == 303 and first.headers["Location"].startswith("/console/login")
    assert (await client.get("/console", allow_redirects=False)).status == 301
    await make_user(sessions, bot.clock, "admin-wu", "admin")
    resp = await login(client, "admin-wu")
    assert resp.status == 303 and resp.headers["Location"] == "/console/"
    cookie = resp.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    home = await client.get("/console/")
    html = await home.text()
    assert home.status == 200 and "总览" in html and "办结率" in html and "<svg" in html
    assert home.headers["Cache-Control"] == "no-store"
    token = csrf_of(html)
    out = await client.post("/console/logout", data={"_csrf": token}, allow_redirects=False)
    assert out.status == 303
    after = await client.get("/console/", allow_redirects=False)
    assert after.status == 303  # logged out: back to the login page


async def test_wrong_name_or_password_read_the_same(make_bot: BotFactory, sessions) -> None:
    bot = await make_bot()
    await make_user(sessions, bot.clock, "officer-li", "officer")
    wrong_password = await login(bot.client, "officer-li", "not-it")
    no_such_user = await login(bot.client, "nobody", "not-it")
    assert wrong_password.status == no_such_user.status == 401
    a, b = await wrong_password.text(), await no_such_user.text()
    assert "用户名或密码不正确" in a and "用户名或密码不正确" in b
    empty = await login(bot.client, "", "")
    text = await empty.text()
    assert empty.status == 400 and "请输入用户名" in text and "请输入密码" in text


async def test_login_is_throttled(make_bot: BotFactory, sessions) -> None:
    bot = await make_bot()
    await make_user(sessions, bot.clock, "leader-zhou", "leader")
    for _ in range(5):
        assert (await login(bot.client, "leader-zhou", "guess")).status == 401
    locked = await login(bot.client, "leader-zhou")  # even the right password now waits
    assert locked.status == 429 and "尝试次数过多" in await locked.text()
    bot.clock.advance(minutes=16)
    assert (await login(bot.client, "leader-zhou")).status == 303


async def test_a_form_without_its_csrf_token_is_refused(make_bot: BotFactory,
                                                        sessions) -> None:
    bot = await make_bot()
    await make_user(sessions, bot.clock, "admin-wu", "admin")
    await login(bot.client, "admin-wu")
    refused = await bot.client.post("/console/logout", data={}, allow_redirects=False)
    assert refused.status == 403 and "表单已失效" in await refused.text()
    forged = await bot.client.post("/console/logout", data={"_csrf": "forged"},
                                   allow_redirects=False)
    assert forged.status == 403
    page = await bot.client.get("/console/login")  # no CSRF token, no login either
    _ = csrf_of(await page.text())
    bare = await bot.client.post("/console/login", data={
        "username": "admin-wu", "password": PASSWORD}, allow_redirects=False)
    assert bare.status == 403


async def test_an_idle_session_expires(make_bot: BotFactory, sessions) -> None:
    bot = await make_bot()
    await make_user(sessions, bot.clock, "admin-wu", "admin")
    await login(bot.client, "admin-wu")
    bot.clock.advance(hours=7)
    assert (await bot.client.get("/console/", allow_redirects=False)).status == 200
    bot.clock.advance(hours=7)  # used 7 h ago: still fine (the use refreshed it)
    assert (await bot.client.get("/console/", allow_redirects=False)).status == 200
    bot.clock.advance(hours=8, minutes=1)
    expired = await bot.client.get("/console/", allow_redirects=False)
    assert expired.status == 303 and "expired=1" in expired.headers["Location"]
    page = await bot.client.get(expired.headers["Location"])
    assert "登录已过期" in await page.text()


async def test_no_open_redirect_after_login(make_bot: BotFactory, sessions) -> None:
    bot = await make_bot()
    await make_user(sessions, bot.clock, "admin-wu", "admin")
    resp = await login(bot.client, "admin-wu", next_="https://evil.example/")
    assert resp.headers["Location"] == "/console/"


async def test_the_dashboard_counts(make_bot: BotFactory, sessions) -> None:
    bot = await make_bot(background=False)
    await make_user(sessions, bot.clock, "admin-wu", "admin")
    p = bot.phone("o-d1")
    await p.register(name="骑手甲")
    await new_course(bot, hours_ahead=1, capacity=5)
    await p.say("报名 DX2612A")
    bot.clock.advance(minutes=40)
    await p.say("签到 DX2612A")
    bot.clock.advance(hours=3)  # the course has ended
    await login(bot.client, "admin-wu")
    html = await (await bot.client.get("/console/")).text()
    assert "1/1" in html  # attended / enrolled among courses ended in 30 days
    assert "30天活跃成员 / 共1" in html
    _ = await page_csrf(bot.client)
    bot.clock.advance(timedelta(days=31))
    html = await (await bot.client.get("/console/", allow_redirects=False)).text()
    assert html  # the session expired long ago: the login page, no error


async def test_an_admin_session_may_use_the_json_api_with_its_csrf_token(
        make_bot: BotFactory, sessions) -> None:
    bot = await make_bot()
    await make_user(sessions, bot.clock, "admin-wu", "admin")
    await make_user(sessions, bot.clock, "officer-li", "officer")
    assert (await bot.client.get("/api/v1/courses")).status == 401  # no token, no session
    await login(bot.client, "admin-wu")
    listing = await bot.client.get("/api/v1/courses")
    assert listing.status == 200 and (await listing.json())["courses"] == []
    start = bot.clock.now() + timedelta(days=2)
    body = {"code": "API1", "title": "会话里建的课", "start": start.isoformat(),
            "end": (start + timedelta(hours=1)).isoformat(), "capacity": 5, "hours": 1,
            "online_url": "https://meeting.example.cn/j/1"}
    refused = await bot.client.post("/api/v1/courses", json=body)
    assert refused.status == 403  # a write needs the session's CSRF token
    token = await page_csrf(bot.client)
    made = await bot.client.post("/api/v1/courses", json=body,
                                 headers={"X-CSRF-Token": token})
    assert made.status == 201, await made.text()
    await bot.client.post("/console/logout", data={"_csrf": token})
    await login(bot.client, "officer-li")
    assert (await bot.client.get("/api/v1/courses")).status == 403  # pages only, for them
