"""Console answers are never cached, and error pages are pages like the others: the header's
退出 form carries the session's CSRF token (so it works), the user line shows the role, the
menu is there. Query and form fields with a control or invisible character are refused."""

from __future__ import annotations

import pytest

from tests.conftest import Bot, BotFactory
from tests.console_util import csrf_of, login, make_user, page_csrf


async def _logged_in(make_bot: BotFactory, sessions, role: str = "admin") -> Bot:
    bot: Bot = await make_bot()
    await make_user(sessions, bot.clock, f"{role}-err", role)
    assert (await login(bot.client, f"{role}-err")).status == 303
    return bot


async def _logs_out(bot: Bot, html: str) -> None:
    out = await bot.client.post("/console/logout", data={"_csrf": csrf_of(html)},
                                allow_redirects=False)
    assert out.status == 303, await out.text()
    after = await bot.client.get("/console/", allow_redirects=False)
    assert after.status == 303 and after.headers["Location"].startswith("/console/login")


@pytest.mark.parametrize("path", ["/console/no-such-page", "/console/reports/R20990101-0001",
                                  "/console/notices/999999"])
async def test_404_for_a_logged_in_user(make_bot: BotFactory, sessions, path: str) -> None:
    bot = await _logged_in(make_bot, sessions)
    page = await bot.client.get(path)
    html = await page.text()
    assert page.status == 404 and "没有这个页面" in html
    assert page.headers["Cache-Control"] == "no-store"
    assert "admin-err · 管理员" in html
    assert 'href="/console/reports"' in html  # the menu, as on every page
    await _logs_out(bot, html)


async def test_405_is_a_page_too(make_bot: BotFactory, sessions) -> None:
    bot = await _logged_in(make_bot, sessions, "officer")
    page = await bot.client.post("/console/", data={"_csrf": await page_csrf(bot.client)})
    html = await page.text()
    assert page.status == 405 and "Allow" in page.headers
    assert page.headers["Cache-Control"] == "no-store" and "网格员" in html
    await _logs_out(bot, html)


async def test_a_stale_form_page_lets_you_log_out(make_bot: BotFactory, sessions) -> None:
    bot = await _logged_in(make_bot, sessions, "officer")
    stale = await bot.client.post("/console/notices/new", data={"_csrf": "not-the-token",
                                                                  "title": "x"})
    html = await stale.text()
    assert stale.status == 403 and "表单已失效" in html
    assert stale.headers["Cache-Control"] == "no-store"
    assert "officer-err · 网格员" in html
    await _logs_out(bot, html)


async def test_a_role_that_may_not_see_a_page(make_bot: BotFactory, sessions) -> None:
    bot = await _logged_in(make_bot, sessions, "instructor")
    page = await bot.client.get("/console/reports")
    html = await page.text()
    assert page.status == 404 and page.headers["Cache-Control"] == "no-store"
    assert "讲师" in html
    await _logs_out(bot, html)


async def test_not_logged_in_and_the_login_page(make_bot: BotFactory) -> None:
    bot: Bot = await make_bot()
    for path in ("/console/", "/console/login", "/console/nothing"):
        answer = await bot.client.get(path, allow_redirects=False)
        assert answer.headers["Cache-Control"] == "no-store", path


@pytest.mark.parametrize("value", ["\rHT", "H\u200bT", "HT\x1e", "HT\u202e"])
async def test_a_query_value_with_a_control_character(make_bot: BotFactory, sessions,
                                                      value: str) -> None:
    bot = await _logged_in(make_bot, sessions)
    page = await bot.client.get("/console/reports", params={"grid": value})
    html = await page.text()
    assert page.status == 400 and "参数 grid" in html
    assert page.headers["Cache-Control"] == "no-store" and "管理员" in html


@pytest.mark.parametrize("field,value", [("title", "通知\u200b"), ("title", "\r通知"),
                                         ("body", "正文\x1e"), ("body", "\ufeff正文"),
                                         ("url", "https://example.com/\x7f")])
async def test_a_form_field_with_a_control_character(make_bot: BotFactory, sessions,
                                                     field: str, value: str) -> None:
    bot = await _logged_in(make_bot, sessions)
    form = {"_csrf": await page_csrf(bot.client, "/console/notices/new"), "audience": "all",
            "title": "通知", "body": "正文\n第二行", "url": "", "when": "now", **{field: value}}
    page = await bot.client.post("/console/notices/new", data=form, allow_redirects=False)
    html = await page.text()
    assert page.status == 400, html
    assert "不能含有控制字符或不可见字符" in html


# --- every error a person can meet is a Chinese page in the layout, with a way back ----------


def _a_page_with_a_way_back(html: str, title: str) -> None:
    assert f"<h1>{title}</h1>" in html and 'class="brand" href="/console/"' in html
    assert ">返回上一页</a>" in html and ">回到首页</a>" in html
    assert "Not Found" not in html and "Traceback" not in html


@pytest.mark.parametrize("path", ["/console/nope", "/console/courses/xyz",
                                  "/console/static/missing.css", "/nope", "/console/static/"])
async def test_404_for_a_visitor(make_bot: BotFactory, path: str) -> None:
    bot: Bot = await make_bot()
    page = await bot.client.get(path, allow_redirects=False)
    html = await page.text()
    assert page.status == 404 and page.content_type == "text/html", path
    _a_page_with_a_way_back(html, "没有这个页面")
    assert 'href="/console/login">登录控制台</a>' in html  # a visitor is offered the login
    assert 'class="menu"' not in html


async def test_a_page_that_exists_still_asks_a_visitor_to_log_in(make_bot: BotFactory) -> None:
    bot: Bot = await make_bot()
    page = await bot.client.get("/console/reports/999999", allow_redirects=False)
    assert page.status == 303 and page.headers["Location"].startswith("/console/login?next=")


@pytest.mark.parametrize("path", ["/console/nope", "/console/reports/999999", "/nope",
                                  "/console/static/missing.css"])
async def test_404_for_an_admin_has_the_menu(make_bot: BotFactory, sessions, path: str
                                             ) -> None:
    bot = await _logged_in(make_bot, sessions)
    came_from = str(bot.client.make_url("/console/members"))
    page = await bot.client.get(path, headers={"Referer": came_from})
    html = await page.text()
    assert page.status == 404, path
    _a_page_with_a_way_back(html, "没有这个页面")
    assert "admin-err · 管理员" in html and 'href="/console/reports"' in html
    assert 'href="/console/members">返回上一页' in html  # back to where they came from
    assert "登录控制台" not in html


async def test_the_way_back_never_leaves_the_site(make_bot: BotFactory, sessions) -> None:
    bot = await _logged_in(make_bot, sessions)
    page = await bot.client.get("/console/nope", headers={"Referer": "https://evil.example/x"})
    assert 'href="/console/">返回上一页' in await page.text()


async def test_405_for_a_visitor_and_a_post_to_a_page(make_bot: BotFactory, sessions) -> None:
    bot: Bot = await make_bot()
    page = await bot.client.post("/console/members", data={"x": "1"}, allow_redirects=False)
    assert page.status == 405 and "GET" in page.headers["Allow"]
    _a_page_with_a_way_back(await page.text(), "不支持这个操作")
    root = await bot.client.post("/healthz/nothing-here", allow_redirects=False)
    assert root.status == 404


async def test_the_api_answers_json_in_words(make_bot: BotFactory) -> None:
    bot: Bot = await make_bot()
    missing = await bot.client.get("/api/v1/nope")
    assert missing.status == 404 and missing.content_type == "application/json"
    assert "没有这个接口" in (await missing.json())["error"]
    wrong = await bot.client.post("/api/v1/openapi.json")
    assert wrong.status == 405 and "GET" in wrong.headers["Allow"]
    assert "这个接口不接受这种请求" in (await wrong.json())["error"]
    token = await bot.client.get("/api/v1/notices/1")
    assert token.status == 401 and "error" in await token.json()


async def test_an_unexpected_fault_is_a_500_page_and_logged(make_bot: BotFactory, sessions,
                                                           caplog: pytest.LogCaptureFixture
                                                           ) -> None:
    """A real fault inside a page (its table has gone missing): the 500 page in the layout,
    the traceback only in the log."""
    from sqlalchemy import text

    bot = await _logged_in(make_bot, sessions)

    async def rename(old: str, new: str) -> None:
        async with sessions() as s, s.begin():
            await s.exec(text(f"ALTER TABLE {old} RENAME TO {new}"))  # type: ignore[call-overload]

    await rename("station", "station_away")
    try:
        with caplog.at_level("ERROR", logger="bot.web.console"):
            page = await bot.client.get("/console/stations")
        html = await page.text()
    finally:  # the database is the next test's too (PostgreSQL's is only emptied)
        await rename("station_away", "station")
    assert page.status == 500
    _a_page_with_a_way_back(html, "系统出错了")
    assert "admin-err · 管理员" in html and "station" not in html.lower().replace(
        "/console/stations", "")
    assert any("GET /console/stations failed" in r.getMessage() and r.exc_info
               for r in caplog.records)
    await _logs_out(bot, html)


async def test_a_form_too_large_is_a_413_page(make_bot: BotFactory, sessions) -> None:
    bot = await _logged_in(make_bot, sessions)
    token = await page_csrf(bot.client, "/console/notices/new")
    page = await bot.client.post("/console/notices/new", data={
        "_csrf": token, "title": "大", "body": "很长" * 700_000})
    html = await page.text()
    assert page.status == 413, html[:300]
    _a_page_with_a_way_back(html, "内容过大")
    assert "admin-err · 管理员" in html
