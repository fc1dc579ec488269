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
