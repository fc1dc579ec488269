"""Accessibility as a test: axe-core (the copy bundled in axe-playwright-python, so nothing
is fetched) over every console page each role can reach, the login page, the error pages
(404 and the stale-form 403) and the simulator, at a laptop's and a phone's width, on demo
data that fills every list. Any serious or critical violation fails the test, printed as
rule, page, role and node.

The pages are found by crawling: each role's menu, then the links on those pages, then the
links on those (same origin, /console/ only, GET, no downloads, no logout), deduplicated by
path pattern (a path segment holding a digit is an id), so a new page is covered without
editing this test. Run it alone with:

    .venv/bin/python -m pytest tests/console/test_accessibility.py -s
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import urllib.error
import urllib.request
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from tests.browser_util import ARTIFACTS, ROOT, chromium, need_browser, run_cli, running_server

PASSWORD = "password-123"
DEMO_ADMIN, DEMO_PASSWORD = "demo-admin", "xiaoge-demo"  # bot/dev/demo.py
RIDER = "a11y-rider"
COURSE = "A11Y-1"
SIZES = {"1366": {"width": 1366, "height": 900}, "390": {"width": 390, "height": 844}}
DEPTH = 3  # the menu, its pages' links, and theirs (a course's edit and cancel forms)
SKIP = re.compile(r"\.(csv|xlsx|png|jpe?g|zip|json|pdf)$|/logout$|/photo$")
FAILING = {"serious", "critical"}
# The accounts beside the demo admin: one of each other role, scoped to the demo data.
ACCOUNTS = {"a11y-teacher": ("instructor",), "a11y-leader": ("leader",),
            "a11y-officer": ("officer", "--grid", "HT")}
# An account the login throttle locks (console.login_account_lock is 2 here), so that
# 控制台账号 shows the locked accounts and their 解除锁定 buttons.
LOCKED, LOCK_AFTER = "a11y-locked", 2


def _user(env: dict[str, str], name: str, role: str, *extra: str) -> None:
    made = subprocess.run([sys.executable, "run.py", "create-user", name, "--role", role,
                           *extra], cwd=ROOT, env=env, input=f"{PASSWORD}\n",
                          capture_output=True, text=True, timeout=60)
    assert made.returncode == 0, made.stdout + made.stderr


def _say(base: str, **payload: Any) -> str:
    """One gesture of the rider's phone through the simulator's signed callback."""
    req = urllib.request.Request(f"{base}/simulator/api/send", method="POST",
                                 data=json.dumps({"openid": RIDER, **payload}).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        data = json.loads(resp.read())
    assert data.get("ok"), data
    return "\n".join(data["replies"])


def _fill_every_list(base: str, env: dict[str, str], tmp: Path) -> None:
    """Stations and grids come with dev mode; add the staff, a group, a course, a member
    in both, a check-in, a report and a notice through the command line and the phone."""
    for name, (role, *extra) in ACCOUNTS.items():
        _user(env, name, role, *extra)
    made = run_cli(["create-group", "无障碍测试小组", "--industry", "外卖送餐",
                    "--leader", "a11y-leader"], env)
    invite = re.search(r"邀请码：(\w+)", made.stdout)
    assert made.returncode == 0 and invite, made.stdout + made.stderr
    start = (datetime.now() + timedelta(days=3)).replace(hour=19, minute=30, second=0,
                                                          microsecond=0)
    courses = tmp / "courses.yaml"
    courses.write_text(
        f"- code: {COURSE}\n  title: 无障碍测试课程\n  instructor: a11y-teacher\n"
        f"  start: \"{start:%Y-%m-%dT%H:%M}\"\n"
        f"  end: \"{start + timedelta(hours=1):%Y-%m-%dT%H:%M}\"\n"
        "  place: 湖塘红色驿站（演示）\n  lat: 31.7093\n  lng: 119.9512\n  capacity: 40\n"
        "  hours: 1\n  audience: all\n  status: published\n", encoding="utf-8")
    made = run_cli(["import-courses", str(courses)], env)
    assert made.returncode == 0, made.stdout + made.stderr

    for words in ("注册", "李四", "13900139000", "2", "美团", "1"):
        _say(base, kind="text", content=words)
    assert "登记完成" in _say(base, kind="text", content="同意")
    assert "报名成功" in _say(base, kind="text", content=f"报名 {COURSE}")
    # A 三会一课 activity (its page, roll and forms), planned before the rider joins: no push
    # lengthens the simulator's conversation below.
    _activity(base, invite.group(1), start)
    _say(base, kind="text", content=f"加入小组 {invite.group(1)}")
    assert "已请假" in _say(base, kind="text", content="请假 今晚在送单")
    assert "签到成功" in _say(base, kind="scancode_waitmsg", key="扫码签到", scene="st:HT01")
    _say(base, kind="text", content="上报")
    _say(base, kind="text", content="花园街路灯不亮，晚上很黑")
    _say(base, kind="text", content="跳过")
    _say(base, kind="location", lat=31.7094, lng=119.9513, label="湖塘花园街")
    _say(base, kind="text", content="确认")
    filed = _say(base, kind="text", content="确认")
    if "附议" in filed:  # a demo report of the kind lies nearby: file a new one all the same
        _say(base, kind="text", content="2")
        filed = _say(base, kind="text", content="确认")
    assert re.search(r"R\d{8}-\d{4}", filed), filed
    made = run_cli(["notify", "--audience", "all", "--title", "暴雨预警",
                    "--body", "今天下午有暴雨，请就近到红色驿站避雨。"], env)
    assert made.returncode == 0, made.stdout + made.stderr


def _activity(base: str, group: str, start: datetime) -> None:
    """An activity of the group, scheduled through /api/v1 with the dev API token."""
    from bot.settings import load_settings

    token = load_settings(ROOT / "config.yaml").api.token
    body = {"kind": "党小组会", "topic": "无障碍测试活动", "start": f"{start:%Y-%m-%dT%H:%M}",
            "end": f"{start + timedelta(hours=1):%Y-%m-%dT%H:%M}", "place": "湖塘红色驿站（演示）",
            "lat": 31.7093, "lng": 119.9512}
    req = urllib.request.Request(f"{base}/api/v1/groups/{group}/activities", method="POST",
                                 data=json.dumps(body).encode(), headers={
                                     "Content-Type": "application/json",
                                     "Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        assert resp.status == 201


def _lock_an_account(base: str, env: dict[str, str]) -> None:
    _user(env, LOCKED, "instructor")
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
    for _ in range(LOCK_AFTER):
        with opener.open(f"{base}/console/login", timeout=30) as page:
            token = re.search(r'name="_csrf" value="([^"]+)"', page.read().decode())
        assert token
        form = urlencode({"_csrf": token.group(1), "username": LOCKED, "password": "wrong"})
        try:
            opener.open(f"{base}/console/login", data=form.encode(), timeout=60)
        except urllib.error.HTTPError as exc:
            assert exc.code == 401, exc.code


def _pattern(url: str) -> str:
    """/console/reports/R20261206-0001?x=1 → /console/reports/{id}: one check per page kind."""
    path = urlsplit(url).path
    return "/".join("{id}" if re.search(r"\d", part) else part for part in path.split("/"))


def _links(page: Any, base: str) -> list[str]:
    hrefs = page.eval_on_selector_all("a[href]", "els => els.map(a => a.href)")
    return [h.split("#")[0] for h in hrefs
            if h.startswith(f"{base}/console/") and not SKIP.search(urlsplit(h).path)]


class Audit:
    """Runs axe at both sizes and keeps every serious or critical violation."""

    def __init__(self) -> None:
        from axe_playwright_python.sync_playwright import Axe

        self.axe = Axe()
        self.runs: list[tuple[str, str, str]] = []
        self.found: list[str] = []

    def check(self, page: Any, who: str, label: str,
              load: Any = None) -> None:
        if load is not None:
            load()
        for size, viewport in SIZES.items():
            page.set_viewport_size(viewport)  # the media queries apply without a reload
            result = self.axe.run(page).response
            self.runs.append((who, label, size))
            for v in result["violations"]:
                if v["impact"] not in FAILING:
                    continue
                for node in v["nodes"]:
                    self.found.append(
                        f"{v['id']} [{v['impact']}] {label} @{size}px as {who}: "
                        f"{' '.join(map(str, node['target']))} — {node['html'][:160]}"
                        f"\n    {v['help']}; {node.get('failureSummary', '')[:300]}")


def _crawl(page: Any, base: str, who: str, audit: Audit) -> None:
    page.goto(f"{base}/console/")
    todo = [h.split("#")[0] for h in page.eval_on_selector_all(
        "nav.menu a[href]", "els => els.map(a => a.href)")]
    assert todo, f"{who} has no menu"
    seen: set[str] = set()
    for _ in range(DEPTH):
        found: list[str] = []
        for url in todo:
            if _pattern(url) in seen:
                continue
            seen.add(_pattern(url))
            resp = page.goto(url)
            assert resp is not None and resp.status == 200, f"{who}: {url} → {resp and resp.status}"
            if "text/html" not in resp.headers.get("content-type", ""):
                continue
            found += _links(page, base)
            audit.check(page, who, urlsplit(url).path)
        todo = found
    print(f"{who}: {len(seen)} page kinds: {sorted(seen)}")


def _login(page: Any, base: str, name: str, password: str) -> None:
    page.goto(f"{base}/console/login")
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", password)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(f"{base}/console/")


def test_every_page_passes_axe_at_both_sizes(tmp_path: Path) -> None:
    need_browser()
    audit = Audit()
    with running_server(tmp_path, XIAOGE_CONSOLE__LOGIN_ACCOUNT_LOCK=str(LOCK_AFTER)
                        ) as (base, env), chromium() as browser:
        _fill_every_list(base, env, tmp_path)
        _lock_an_account(base, env)
        try:
            with urllib.request.urlopen(f"{base}/favicon.ico", timeout=10) as icon:
                if not icon.headers["Content-Type"].startswith("image/"):
                    audit.found.append(f"favicon: /favicon.ico is {icon.headers['Content-Type']}")
        except urllib.error.HTTPError as exc:
            audit.found.append(f"favicon: /favicon.ico answers {exc.code}")

        # Logged out: the login page, a 404, the simulator (with a conversation in it).
        page = browser.new_page(locale="zh-CN")
        page.set_default_timeout(15_000)
        audit.check(page, "visitor", "/console/login",
                    load=lambda: page.goto(f"{base}/console/login"))
        if not page.locator("meta[name=description]").count():
            audit.found.append("meta description: none on the login page")
        audit.check(page, "visitor", "/console/no-such-page (404)",
                    load=lambda: page.goto(f"{base}/console/no-such-page"))
        audit.check(page, "visitor", "/simulator/", load=lambda: page.goto(f"{base}/simulator/"))
        page.fill("#openid", RIDER)
        page.locator("#sheet-identity").get_by_role("button", name="使用").click()
        page.fill("#text", "我的")
        page.press("#text", "Enter")
        page.locator(".msg.bot:not(.typing) .bubble").last.wait_for()
        audit.check(page, "visitor", "/simulator/ (a conversation)")
        page.context.close()

        for name, password in [(DEMO_ADMIN, DEMO_PASSWORD),
                               *((n, PASSWORD) for n in ACCOUNTS)]:
            page = browser.new_context(locale="zh-CN").new_page()
            page.set_default_timeout(15_000)
            _login(page, base, name, password)
            _crawl(page, base, name, audit)
            if name == DEMO_ADMIN:  # the phone's scroll cue, for the record
                page.set_viewport_size(SIZES["390"])
                page.goto(f"{base}/console/stations")
                ARTIFACTS.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(ARTIFACTS / "a11y-stations-390.png"))
                audit.check(page, name, "/console/no-such-page (404)",
                            load=lambda p=page: p.goto(f"{base}/console/no-such-page"))

                def stale_form(p: Any = page) -> None:  # a form whose token has gone stale
                    p.goto(f"{base}/console/")
                    p.eval_on_selector("form.who input[type=hidden]", "i => i.value = 'stale'")
                    with p.expect_navigation():
                        p.eval_on_selector("form.who", "f => f.submit()")
                    assert "表单已失效" in p.content()

                audit.check(page, name, "/console/logout (403, stale form)", load=stale_form)
                # The locked account, and lifting its lock by its button.
                audit.check(page, name, "/console/members/staff (a locked account)",
                            load=lambda p=page: p.goto(f"{base}/console/members/staff"))
                with page.expect_navigation():
                    page.get_by_role("button", name=f"解除 {LOCKED} 的锁定").click()
                assert f"已解除 {LOCKED} 的登录锁定" in page.content()
                assert not page.get_by_role("button", name=f"解除 {LOCKED} 的锁定").count()
                audit.check(page, name, "/console/members/staff (a lock lifted)")
            page.context.close()

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "accessibility.txt").write_text(
        "\n".join([f"{len(audit.runs)} axe runs, {len(audit.found)} serious/critical nodes",
                   *audit.found, "", *map(" ".join, audit.runs)]) + "\n", encoding="utf-8")
    print(f"axe: {len(audit.runs)} runs (page × size × role), {len(audit.found)} failing nodes")
    assert not audit.found, "\n".join(audit.found)
