"""The console speaks Chinese everywhere a person looks, in a real browser (Debian's Chromium
under Playwright) against a real `run.py serve`:

- the error pages (404, 405, 500's layout, a role's missing page) carry their status, a
  Chinese heading and a way back, inside the console's layout — the menu for a logged-in
  user, the login link for a visitor — at /console/… and at the site's root;
- every page each role reaches (crawled from its menu, as the accessibility test does)
  shows no stored code in its visible text: no scene or audience prefixes (`crs:`,
  `member:` …), no openid, no bare "all", and no login of an account that has a display
  name (its owner's name, registered on the WeChat bound to it);
- the audience pickers work end to end: a leader sends to their group by choosing it, an
  admin sends to one member found by name, an instructor's course is opened to a group
  chosen by name; each detail page says it in words.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import urllib.request
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tests.browser_util import ROOT, chromium, need_browser, run_cli, running_server

PASSWORD = "password-123"
DEMO_ADMIN, DEMO_PASSWORD = "demo-admin", "xiaoge-demo"  # bot/dev/demo.py
COURSE = "WORDS-1"
GROUP = "词语测试小组"
# openids shaped like WeChat's (28 characters from "o"): a leak would match OPENID below
RIDER = "oWordsRider0000000000000001"
# console login → (role, extra create-user arguments, the name its owner registers with)
STAFF = {"words-teacher": ("instructor", (), "王老师"),
         "words-leader": ("leader", (), "周组长"),
         "words-officer": ("officer", ("--grid", "HT"), "何网格员")}
ADMIN_NAME = "吴管理员"  # registered on the WeChat bound to demo-admin
# … but pages show the name the account was given (the demo's), before the bound WeChat's.
ADMIN_SHOWN = "演示管理员"
DEPTH = 3
SKIP = re.compile(r"\.(csv|xlsx|png|jpe?g|zip|json|pdf)$|/logout$|/photo$")
RAW = re.compile(r"(?<![A-Za-z])(console|crs|grp|st|act|member|industry|group|course|"
                 r"leader|officer|erased):")
OPENID = re.compile(r"(?<![A-Za-z0-9_-])o[A-Za-z0-9_-]{20,}")
BARE_ALL = re.compile(r"(?<![A-Za-z])all(?![A-Za-z])")
ACCOUNTS_PAGE = "/console/members/staff"  # where logins are the point (who logs in as what)


def _say(base: str, openid: str, words: str, kind: str = "text", **extra: Any) -> str:
    """One gesture of a phone through the simulator's signed callback."""
    payload = {"openid": openid, "kind": kind, **({"content": words} if words else {}), **extra}
    req = urllib.request.Request(f"{base}/simulator/api/send", method="POST",
                                 data=json.dumps(payload).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        data = json.loads(resp.read())
    assert data.get("ok"), data
    return "\n".join(data["replies"])


def _register(base: str, openid: str, name: str, mobile: str) -> None:
    for words in ("注册", name, mobile, "2", "美团", "1"):
        _say(base, openid, words)
    assert "登记完成" in _say(base, openid, "同意")


def _bind(base: str, openid: str, name: str, mobile: str, code: str) -> None:
    """A staff member's own WeChat: registered with their name, bound to their account."""
    _register(base, openid, name, mobile)
    assert "绑定成功" in _say(base, openid, f"绑定 {code}")


def _create_user(env: dict[str, str], name: str, role: str, *extra: str) -> str:
    made = subprocess.run([sys.executable, "run.py", "create-user", name, "--role", role,
                           *extra], cwd=ROOT, env=env, input=f"{PASSWORD}\n",
                          capture_output=True, text=True, timeout=60)
    assert made.returncode == 0, made.stdout + made.stderr
    code = re.search(r"绑定\s*([A-Z0-9]{6})", made.stdout)
    assert code, made.stdout
    return code.group(1)


def _fill(base: str, env: dict[str, str], tmp: Path) -> str:
    """Staff with display names, a group, a course, a rider in both with a check-in and a
    report, and a notice from the command line."""
    log = (tmp / "server.log").read_text(encoding="utf-8")
    admin_code = re.search(rf"{DEMO_ADMIN}（密码 [^）]+）的绑定码：([A-Z0-9]+)", log)
    assert admin_code, log[-2000:]
    _bind(base, "oWordsStaffAdmin00000000001", ADMIN_NAME, "13700137001", admin_code.group(1))
    for i, (login, (role, extra, name)) in enumerate(STAFF.items()):
        code = _create_user(env, login, role, *extra)
        _bind(base, f"oWordsStaff{i}000000000000001", name, f"1370013701{i}", code)
    made = run_cli(["create-group", GROUP, "--industry", "外卖送餐", "--leader",
                    "words-leader"], env)
    invite = re.search(r"邀请码：(\w+)", made.stdout)
    assert made.returncode == 0 and invite, made.stdout + made.stderr
    start = (datetime.now() + timedelta(days=3)).replace(hour=19, minute=30, second=0,
                                                          microsecond=0)
    courses = tmp / "courses.yaml"
    courses.write_text(
        f"- code: {COURSE}\n  title: 词语测试课程\n  instructor: words-teacher\n"
        f"  start: \"{start:%Y-%m-%dT%H:%M}\"\n"
        f"  end: \"{start + timedelta(hours=1):%Y-%m-%dT%H:%M}\"\n"
        "  place: 湖塘红色驿站（演示）\n  lat: 31.7093\n  lng: 119.9512\n  capacity: 40\n"
        "  hours: 1\n  audience: all\n  status: published\n", encoding="utf-8")
    made = run_cli(["import-courses", str(courses)], env)
    assert made.returncode == 0, made.stdout + made.stderr

    _register(base, RIDER, "李四", "13900139000")
    assert "报名成功" in _say(base, RIDER, f"报名 {COURSE}")
    _say(base, RIDER, f"加入小组 {invite.group(1)}")
    assert "签到成功" in _say(base, RIDER, "", kind="scancode_waitmsg", key="扫码签到",
                              scene="st:HT01")
    for words in ("上报", "花园街路灯不亮，晚上很黑", "跳过"):
        _say(base, RIDER, words)
    _say(base, RIDER, "", kind="location", lat=31.7094, lng=119.9513, label="湖塘花园街")
    _say(base, RIDER, "确认")
    filed = _say(base, RIDER, "确认")
    if "附议" in filed:  # a demo report of the kind lies nearby: file a new one all the same
        _say(base, RIDER, "2")
        filed = _say(base, RIDER, "确认")
    ticket = re.search(r"R\d{8}-\d{4}", filed)
    assert ticket, filed
    made = run_cli(["notify", "--audience", "all", "--title", "暴雨预警",
                    "--body", "今天下午有暴雨，请就近到红色驿站避雨。"], env)
    assert made.returncode == 0, made.stdout + made.stderr
    return ticket.group(0)


def _login(page: Any, base: str, name: str, password: str = PASSWORD) -> None:
    page.goto(f"{base}/console/login")
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", password)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(f"{base}/console/")


def _pattern(url: str) -> str:
    path = urlsplit(url).path
    return "/".join("{id}" if re.search(r"\d", part) else part for part in path.split("/"))


def _visible(page: Any) -> str:
    """What a person reads: the body's rendered text, every choice of every list and what
    the fields hold."""
    options = page.eval_on_selector_all("option", "els => els.map(o => o.textContent)")
    fields = page.eval_on_selector_all(
        "input:not([type=hidden]):not([type=password]), textarea", "els => els.map(e => e.value)")
    return "\n".join([str(page.inner_text("body")), *options, *fields])


def _raw_in(text: str, logins: list[str]) -> list[str]:
    found = [m.group(0) for m in RAW.finditer(text)]
    found += [m.group(0) for m in OPENID.finditer(text)]
    found += [f"bare {m.group(0)!r}" for m in BARE_ALL.finditer(text)]
    found += [login for login in logins if login in text]
    return found


def _scan(page: Any, base: str, who: str, logins: list[str]) -> list[str]:
    """Every page the role reaches (its menu, then links, DEPTH deep): what shows raw."""
    page.goto(f"{base}/console/")
    todo = page.eval_on_selector_all("nav.menu a[href]", "els => els.map(a => a.href)")
    assert todo, f"{who} has no menu"
    seen: set[str] = set()
    problems: list[str] = []
    for _ in range(DEPTH):
        found: list[str] = []
        for url in todo:
            if _pattern(url) in seen:
                continue
            seen.add(_pattern(url))
            resp = page.goto(url)
            assert resp is not None and resp.status == 200, f"{who}: {url}"
            if "text/html" not in resp.headers.get("content-type", ""):
                continue
            found += [h.split("#")[0] for h in page.eval_on_selector_all(
                "a[href]", "els => els.map(a => a.href)")
                if h.startswith(f"{base}/console/") and not SKIP.search(urlsplit(h).path)]
            path = urlsplit(url).path
            checked = [] if path.startswith(ACCOUNTS_PAGE) else logins  # and each one's
            problems += [f"{who} {path}: {raw}" for raw in _raw_in(_visible(page), checked)]
        todo = found
    print(f"{who}: {len(seen)} page kinds: {sorted(seen)}")
    return problems


def _error_page(page: Any, status: int | None, resp: Any, title: str) -> None:
    """An error page: the status, the Chinese heading, a way back, inside the layout."""
    from playwright.sync_api import expect

    if status is not None:
        assert resp is not None and resp.status == status, (resp and resp.status, page.url)
    expect(page.locator("main h1")).to_have_text(title)
    expect(page.get_by_role("link", name="返回上一页")).to_be_visible()
    expect(page.get_by_role("link", name="回到首页")).to_be_visible()
    expect(page.locator("header.top a.brand")).to_contain_text("小哥红驿")
    assert "Not Found" not in page.content()


def test_pages_speak_in_words_and_errors_lead_back(tmp_path: Path) -> None:
    need_browser()
    from playwright.sync_api import expect

    with running_server(tmp_path) as (base, env), chromium() as browser:
        ticket = _fill(base, env, tmp_path)
        logins = [DEMO_ADMIN, *STAFF]  # every one of them has a display name now

        # A visitor: error pages with the login link and no menu.
        visitor = browser.new_context(locale="zh-CN").new_page()
        visitor.set_default_timeout(15_000)
        for path in ("/console/nope", "/nope", "/console/static/missing.css"):
            _error_page(visitor, 404, visitor.goto(f"{base}{path}"), "没有这个页面")
            expect(visitor.get_by_role("link", name="登录控制台")).to_be_visible()
            assert not visitor.locator("nav.menu").count()
        visitor.get_by_role("link", name="登录控制台").click()
        visitor.wait_for_url(re.compile(r".*/console/login$"))
        api = visitor.goto(f"{base}/api/v1/nope")
        assert api is not None and api.status == 404
        assert "没有这个接口" in json.loads(api.text())["error"]
        visitor.context.close()

        # Each role: no raw code on any page it reaches.
        problems: list[str] = []
        pages: dict[str, Any] = {}
        for login, password in [(DEMO_ADMIN, DEMO_PASSWORD), *((n, PASSWORD) for n in STAFF)]:
            page = browser.new_context(locale="zh-CN").new_page()
            page.set_default_timeout(15_000)
            _login(page, base, login, password)
            expect(page.locator("form.who span")).not_to_contain_text(login)
            problems += _scan(page, base, login, logins)
            pages[login] = page
        admin, teacher = pages[DEMO_ADMIN], pages["words-teacher"]
        leader, officer = pages["words-leader"], pages["words-officer"]
        expect(admin.locator("form.who span")).to_have_text(f"{ADMIN_SHOWN} · 管理员")

        # A logged-in user's error pages: the menu, and 返回上一页 to where they were.
        resp = admin.goto(f"{base}/console/reports/R20990101-0001",
                          referer=f"{base}/console/members")  # as if a link there led here
        _error_page(admin, 404, resp, "没有这个页面")
        expect(admin.locator("nav.menu")).to_contain_text("上报")
        assert not admin.get_by_role("link", name="登录控制台").count()
        admin.get_by_role("link", name="返回上一页").click()
        admin.wait_for_url(f"{base}/console/members")
        for path in ("/console/nope", "/console/static/missing.css", "/nope",
                     "/console/courses/xyz"):
            _error_page(admin, 404, admin.goto(f"{base}{path}"), "没有这个页面")
            expect(admin.locator("nav.menu")).to_be_visible()
        admin.goto(f"{base}/console/members")
        with admin.expect_navigation() as posted:  # a form posted to a page that only shows
            admin.evaluate("""() => { const f = document.querySelector('form.who');
                                      f.action = '/console/members'; f.submit(); }""")
        _error_page(admin, 405, posted.value, "不支持这个操作")
        resp = teacher.goto(f"{base}{ACCOUNTS_PAGE}")  # an admin's page: not there for them
        _error_page(teacher, 404, resp, "没有这个页面")
        expect(teacher.locator("form.who span")).to_have_text("王老师 · 讲师")

        # The officer moves the report: its history names them, not their login.
        officer.goto(f"{base}/console/reports")
        officer.locator(f"main a[href*='/console/reports/{ticket}']").first.click()
        officer.select_option("#status", "处理中")
        officer.fill("#note", "已联系路灯所")
        with officer.expect_navigation():
            officer.get_by_role("button", name="保存并通知").click()
        expect(officer.locator("main")).to_contain_text("网格员 何网格员")
        problems += [f"officer report: {r}" for r in _raw_in(_visible(officer), logins)]

        # The leader sends to the group by choosing it.
        leader.goto(f"{base}/console/notices/new")
        expect(leader.locator("#audience option")).to_have_text([f"我的小组：{GROUP}"])
        assert not leader.locator("#member-pick").count()
        leader.select_option("#audience", label=f"我的小组：{GROUP}")
        leader.fill("#title", "周五小组会")
        leader.fill("#body", "周五晚上七点湖塘驿站开小组会。")
        leader.get_by_role("button", name="发送", exact=True).click()
        leader.wait_for_url(re.compile(r".*/console/notices/\d+$"))
        detail = leader.locator("main")
        expect(detail).to_contain_text(f"小组：{GROUP}")
        expect(detail).to_contain_text("控制台 · 周组长")
        problems += [f"leader notice: {r}" for r in _raw_in(_visible(leader), logins)]

        # The admin sends to one member, found by name and chosen from a list.
        admin.goto(f"{base}/console/notices/new")
        expect(admin.locator("#member-pick")).to_be_hidden()
        admin.select_option("#audience", label="单个成员（按姓名选择）")
        expect(admin.locator("#member-pick")).to_be_visible()
        admin.fill("#member_q", "李")
        admin.fill("#title", "证件已办好")
        admin.get_by_role("button", name="查找成员").click()
        admin.select_option("#member_id", label="李四 139****9000")
        expect(admin.locator("#title")).to_have_value("证件已办好")  # kept across the search
        admin.fill("#body", "请到湖塘驿站领取。")
        admin.get_by_role("button", name="预览人数").click()
        expect(admin.locator("p.ok")).to_contain_text("将发送给 1 人")
        admin.get_by_role("button", name="发送", exact=True).click()
        admin.wait_for_url(re.compile(r".*/console/notices/\d+$"))
        expect(admin.locator("main")).to_contain_text("单个成员 李四")
        expect(admin.locator("main")).to_contain_text(f"控制台 · {ADMIN_SHOWN}")
        admin.goto(f"{base}/console/notices")
        admin.get_by_role("link", name="暴雨预警").click()
        expect(admin.locator("main")).to_contain_text("全体成员")
        expect(admin.locator("main")).to_contain_text("命令行")
        problems += [f"admin notices: {r}" for r in _raw_in(_visible(admin), logins)]

        # The instructor opens the course to the group, chosen by name.
        teacher.goto(f"{base}/console/courses/{COURSE}/edit")
        teacher.select_option("#f-audience", label=f"小组：{GROUP}")
        with teacher.expect_navigation():
            teacher.get_by_role("button", name="保存", exact=True).click()
        expect(teacher.locator("main")).to_contain_text(f"小组：{GROUP}")
        expect(teacher.locator("main")).to_contain_text("课程签到码 词语测试课程")
        problems += [f"teacher course: {r}" for r in _raw_in(_visible(teacher), logins)]
        for page in pages.values():
            page.context.close()

    assert not problems, "\n".join(problems)
