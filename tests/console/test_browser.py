"""The console and the simulator together in a real browser (Debian's Chromium under
Playwright) against a real `run.py serve`: an admin sends a notice and watches its counts
while the push reaches the simulated phone; a rider files a report on the phone, the grid's
officer takes it to 已办结 in the console and the rider rates it; another grid's officer gets
a 404; a form without its CSRF token is refused. Screenshots of the main pages are saved
under tests/artifacts/ (XIAOGE_UPDATE_DOCS=1 also refreshes docs/console-*.png)."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any

from bot.web.charts import percent_text
from tests.browser_util import ARTIFACTS, ROOT, chromium, need_browser, running_server

PASSWORD = "password-123"
RIDER = "e2e-rider"


def _login(page: Any, base: str, name: str) -> None:
    page.goto(f"{base}/console/login")
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(f"{base}/console/")


def _console_error(message: Any, errors: list[str]) -> None:
    """A page's console errors are failures: a script or a style the Content-Security-Policy
    refused shows here (the page that asks for a 404 on purpose is not listened to)."""
    if message.type == "error":
        errors.append(f"console: {message.text} ({message.location.get('url')})")


def _shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    if os.environ.get("XIAOGE_UPDATE_DOCS") == "1" and name.startswith("console-"):
        (ROOT / "docs").mkdir(exist_ok=True)
        shutil.copy(path, ROOT / "docs" / f"{name}.png")


def _numbers(url: str) -> tuple[int, float | None, float | None]:
    """Today's check-ins and the 30 days' 办结率 and 满意率, read from the database."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor
    from datetime import UTC, datetime, timedelta

    from sqlmodel import func, select

    from bot.db import make_engine, session_factory
    from models import report as reports
    from models.checkin import Checkin, local_day

    async def read() -> tuple[int, float | None, float | None]:
        engine = make_engine(url)
        try:
            async with session_factory(engine)() as s:
                now = datetime.now(UTC)
                today = (await s.exec(select(func.count()).select_from(Checkin).where(
                    Checkin.day == local_day(now)))).one()
                n = await reports.numbers(s, now - timedelta(days=30), now, now)
                return today, n["resolution_rate"], n["satisfaction_rate"]
        finally:
            await engine.dispose()

    with ThreadPoolExecutor(1) as pool:  # Playwright's sync API holds this thread's loop
        return pool.submit(asyncio.run, read()).result()


def test_notice_report_and_refusals_in_a_real_browser(tmp_path: Path) -> None:
    need_browser()
    from playwright.sync_api import expect

    def stdin_user(env: dict[str, str], name: str, role: str, *extra: str) -> None:
        import subprocess
        import sys

        made = subprocess.run([sys.executable, "run.py", "create-user", name, "--role", role,
                               *extra], cwd=ROOT, env=env, input=f"{PASSWORD}\n",
                              capture_output=True, text=True, timeout=60)
        assert made.returncode == 0, made.stdout + made.stderr

    with running_server(tmp_path) as (base, env), chromium() as browser:
        stdin_user(env, "admin-wu", "admin")
        stdin_user(env, "officer-li", "officer", "--grid", "HT")
        stdin_user(env, "officer-ma", "officer", "--grid", "NT")
        errors: list[str] = []

        # The rider's phone: registered through the simulator.
        phone = browser.new_page(viewport={"width": 420, "height": 860}, locale="zh-CN")
        phone.set_default_timeout(15_000)
        phone.on("pageerror", lambda exc: errors.append(str(exc)))
        phone.on("console", lambda m: _console_error(m, errors))  # a CSP refusal too
        phone.goto(f"{base}/simulator/")
        phone.fill("#openid", RIDER)
        phone.locator("#sheet-identity").get_by_role("button", name="使用").click()
        replies = phone.locator(".msg.bot:not(.typing):not(.push) .bubble")

        def say(words: str) -> str:
            n = replies.count()
            phone.fill("#text", words)
            phone.press("#text", "Enter")
            expect(replies).to_have_count(n + 1)
            return str(replies.nth(n).inner_text())

        for answer in ("注册", "李四", "13900139000", "2", "美团", "1"):
            say(answer)
        assert "登记完成，李四" in say("同意")

        # 1. The admin sends a notice to the rider and watches it arrive.
        desk = browser.new_page(viewport={"width": 1280, "height": 900}, locale="zh-CN")
        desk.set_default_timeout(15_000)
        desk.on("pageerror", lambda exc: errors.append(str(exc)))
        desk.on("console", lambda m: _console_error(m, errors))  # a CSP refusal too
        _login(desk, base, "admin-wu")
        desk.goto(f"{base}/console/notices/new?audience=member:{RIDER}")
        desk.fill("#title", "暴雨预警")
        desk.fill("#body", "今天下午有暴雨，请就近到红色驿站避雨。")
        desk.get_by_role("button", name="预览人数").click()
        expect(desk.locator("p.ok")).to_contain_text("将发送给 1 人")
        desk.get_by_role("button", name="发送", exact=True).click()
        desk.wait_for_url(re.compile(r".*/console/notices/\d+$"))
        expect(desk.locator("#counts b[data-k=sent]")).to_have_text("1", timeout=20_000)
        expect(desk.locator("#counts b[data-k=kefu]")).to_have_text("1")
        push = phone.locator(".msg.push").filter(has_text="暴雨预警")
        expect(push).to_be_visible(timeout=20_000)
        _shot(desk, "console-notice")

        # 2. The rider reports a broken street light at 湖塘 on the phone.
        say("上报")
        say("花园街路灯不亮，晚上很黑")
        say("跳过")
        n = replies.count()
        phone.locator("#more").click()
        phone.locator("#actions").get_by_role("button", name=re.compile("位置")).click()
        phone.fill("#coords", "31.7094,119.9513")
        phone.fill("#coords-label", "湖塘花园街")
        phone.locator("#coords-form button[type=submit]").click()
        expect(replies).to_have_count(n + 1)
        assert say("确认").startswith("请核对")
        done = say("确认")
        ticket = re.search(r"R\d{8}-\d{4}", done)
        assert ticket, done
        ticket_no = ticket.group(0)

        # 3. The other grid's officer cannot open it; the right one takes it to 已办结.
        other = browser.new_context(locale="zh-CN").new_page()
        _login(other, base, "officer-ma")
        resp = other.goto(f"{base}/console/reports/{ticket_no}")
        assert resp is not None and resp.status == 404
        other.context.close()

        officer = browser.new_context(viewport={"width": 1280, "height": 900},
                                      locale="zh-CN").new_page()
        officer.set_default_timeout(15_000)
        officer.on("pageerror", lambda exc: errors.append(str(exc)))
        officer.on("console", lambda m: _console_error(m, errors))  # a CSP refusal too
        _login(officer, base, "officer-li")
        officer.goto(f"{base}/console/reports")
        expect(officer.locator("body")).to_contain_text(ticket_no)
        _shot(officer, "console-reports")
        officer.goto(f"{base}/console/reports/{ticket_no}")
        officer.select_option("#status", "处理中")
        officer.fill("#note", "已联系路灯所")
        officer.get_by_role("button", name="保存并通知").click()
        expect(officer.locator("body")).to_contain_text("处理中")
        officer.select_option("#status", "已办结")
        officer.fill("#note", "灯泡已更换")
        officer.get_by_role("button", name="保存并通知").click()
        expect(officer.locator("body")).to_contain_text("灯泡已更换")
        resolved = phone.locator(".msg.push").filter(has_text="已办结")
        expect(resolved.first).to_be_visible(timeout=20_000)
        say("5")  # the rating the resolved push asks for
        officer.reload()
        expect(officer.locator("body")).to_contain_text("★★★★★")
        _shot(officer, "console-report")

        # 4. A form without its CSRF token is refused (the browser's own session cookie).
        refused = officer.request.post(f"{base}/console/logout", form={}, max_redirects=0)
        assert refused.status == 403
        officer.goto(f"{base}/console/")
        expect(officer.locator(".who")).to_contain_text("officer-li")  # still logged in

        # A check-in by the menu's scan button, then the dashboard shows the day's numbers.
        n = replies.count()
        phone.locator(".menu-top", has_text="驿站").click()
        phone.locator(".menu-item", has_text="扫码签到").click()
        phone.locator("#scan-stations .scene[data-scene='st:HT01']").click()
        expect(replies).to_have_count(n + 1)
        assert "签到成功" in replies.nth(n).inner_text()
        desk.goto(f"{base}/console/")
        # Dev mode's demo data counts too: the numbers, as the database has them.
        today, resolution, satisfaction = _numbers(env["XIAOGE_DATABASE__URL"])
        expect(desk.locator(".tile b").first).to_have_text(str(today))  # 今日签到
        expect(desk.locator(".tile b").nth(4)).to_have_text(percent_text(resolution))
        expect(desk.locator(".tile b").nth(5)).to_have_text(percent_text(satisfaction))
        _shot(desk, "console-dashboard")

        # The remaining pages, for the record.
        desk.goto(f"{base}/console/courses")
        _shot(desk, "console-courses")
        desk.goto(f"{base}/console/members")
        _shot(desk, "console-members")
        phone.evaluate("document.getElementById('log').scrollTop = 1e9")
        _shot(phone, "simulator-e2e")
        assert errors == [], errors
