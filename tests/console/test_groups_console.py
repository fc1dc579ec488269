"""云上党小组 and their 三会一课 activities worked in the console, in Debian's Chromium against
a real `run.py serve` (SQLite and PostgreSQL), with riders talking through the signed
/wechat callback and pushes read from the sandbox:

- an admin creates a group (leader chosen by display name), the form explaining bad input
  beside the field and keeping what was typed; a leader edits their own group and is
  refused (403) on another group and on creating one; the invite code is regenerated (the
  old code is refused in WeChat, the new one accepted); members are searched and paged;
- a leader schedules an activity (members get the push), members check in with 到 and ask
  for leave, the roll and the leave requests show it; it is moved (reminders re-planned)
  and cancelled with a reason (members told); an instructor is refused.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from bot import texts as T
from bot.clock import SHANGHAI
from bot.dev.peer import WechatPeer
from bot.settings import load_settings
from models.due import DuePush
from tests.browser_util import ROOT, chromium, need_browser, run_cli, running_server

PASSWORD = "password-123"
SURNAMES = "赵钱孙李周吴郑王冯陈褚卫蒋沈韩杨朱秦尤许何吕"  # 22 riders, one a surname
DEMO = load_settings(ROOT / "config.yaml").wechat
PEER = WechatPeer(DEMO.token, DEMO.app_id, DEMO.encoding_aes_key)


def _user(env: dict[str, str], name: str, role: str, *extra: str) -> str:
    """A console account made with the command line; its one-time 绑定 code."""
    made = subprocess.run([sys.executable, "run.py", "create-user", name, "--role", role,
                           *extra], cwd=ROOT, env=env, input=f"{PASSWORD}\n",
                          capture_output=True, text=True, timeout=60)
    assert made.returncode == 0, made.stdout + made.stderr
    code = re.search(r"绑定码：(\w+)", made.stdout)
    assert code, made.stdout
    return code.group(1)


def _members(env: dict[str, str], tmp: Path, rows: list[tuple[str, str, str]]) -> None:
    """Members registered elsewhere (openid, name, mobile), imported with the command line."""
    path = tmp / "members.csv"
    path.write_text("openid,name,mobile,industry,platform,party_status\n" + "".join(
        f"{o},{n},{m},外卖送餐,美团,中共党员\n" for o, n, m in rows), encoding="utf-8")
    made = run_cli(["import-members", str(path)], env)
    assert made.returncode == 0, made.stdout + made.stderr


def say(base: str, openid: str, words: str) -> str:
    """A text from a rider through the signed /wechat callback; the passive reply's text.
    The sandbox is told the rider wrote (WeChat's side of the 48-hour 客服 window), as the
    terminal chat and the simulator tell it."""
    told = urllib.request.Request(
        f"{base}/sandbox/control/interaction", method="POST",
        data=json.dumps({"openid": openid, "kind": "message"}).encode(),
        headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(told, timeout=10) as resp:
        assert resp.status == 200
    req = PEER.sign(PEER.text(openid, words))
    url = f"{base}/wechat?{urllib.parse.urlencode(req.params)}"
    post = urllib.request.Request(url, data=req.body.encode(), method="POST",
                                  headers={"Content-Type": "text/xml"})
    with urllib.request.urlopen(post, timeout=30) as resp:
        reply = PEER.read_reply(resp.read().decode())
    assert reply is not None, words
    return str(reply.get("Content", ""))


def pushed(base: str, openid: str, text: str, timeout: float = 20) -> list[str]:
    """What the sandbox delivered to `openid`, once something holding `text` has arrived."""
    deadline = time.monotonic() + timeout
    while True:
        with urllib.request.urlopen(
                f"{base}/sandbox/messages?touser={openid}", timeout=10) as resp:
            found = [json.dumps(m, ensure_ascii=False) for m in json.loads(resp.read())]
        if any(text in m for m in found) or time.monotonic() > deadline:
            assert any(text in m for m in found), (openid, text, found)
            return found
        time.sleep(0.3)


def _page(browser: Any, base: str, who: str) -> Any:
    page = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900}
                               ).new_page()
    page.set_default_timeout(15_000)
    page.goto(f"{base}/console/login")
    page.fill("input[name=username]", who)
    page.fill("input[name=password]", PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(f"{base}/console/")
    return page


def _status(page: Any, url: str) -> int:
    resp = page.goto(url)
    assert resp is not None
    return int(resp.status)


def _group_id(page: Any) -> int:
    found = re.search(r"/console/groups/(\d+)", page.url)
    assert found, page.url
    return int(found.group(1))


def _local(dt: datetime) -> str:
    return dt.astimezone(SHANGHAI).strftime("%Y-%m-%dT%H:%M")


def test_groups_created_edited_recoded_and_refused(db_url: str, tmp_path: Path) -> None:
    need_browser()
    from playwright.sync_api import expect

    with running_server(tmp_path, db_url) as (base, env), chromium() as browser:
        _user(env, "admin-gu", "admin")
        bind = _user(env, "leader-wang", "leader")
        _user(env, "leader-li", "leader")
        _user(env, "teacher-zhao", "instructor")
        riders = [(f"o-rider{i:02d}", f"{c}小哥", f"1390000{i:04d}")
                  for i, c in enumerate(SURNAMES)]
        _members(env, tmp_path, [("o-wang", "王建国", "13800138000"), *riders])
        assert say(base, "o-wang", f"绑定 {bind}").startswith("绑定成功")  # 王建国's WeChat

        # The admin creates a group: bad input is explained beside the field and kept.
        admin = _page(browser, base, "admin-gu")
        admin.goto(f"{base}/console/groups")
        admin.get_by_role("link", name="新建小组").click()
        admin.fill("#name", "湖")
        admin.get_by_role("button", name="创建小组").click()
        expect(admin.locator("#name-error")).to_have_text("小组名称须为2到40个字。")
        expect(admin.locator("#name")).to_have_value("湖")
        admin.fill("#name", "湖塘外卖骑手党小组")
        admin.get_by_role("button", name="创建小组").click()
        expect(admin.locator("#industry-error")).to_have_text("请从列表中选择一个行业。")
        expect(admin.locator("#name")).to_have_value("湖塘外卖骑手党小组")
        assert "其他" not in admin.locator("#industry").inner_text()  # the six committees
        admin.select_option("#industry", "外卖送餐")
        admin.select_option("#leader", label="王建国")  # by display name
        admin.get_by_role("button", name="创建小组").click()
        admin.wait_for_url(re.compile(r".*/console/groups/\d+\?done=created$"))
        expect(admin.locator("p.ok")).to_contain_text("已创建小组「湖塘外卖骑手党小组」")
        expect(admin.locator(".tiles")).to_contain_text("王建国")
        mine = _group_id(admin)
        admin.goto(f"{base}/console/groups/new")
        admin.fill("#name", "湖塘外卖骑手党小组")
        admin.select_option("#industry", "快递物流")
        admin.get_by_role("button", name="创建小组").click()
        expect(admin.locator("#name-error")).to_have_text("已有同名的小组，请换一个名称。")
        expect(admin.locator("#industry")).to_have_value("快递物流")
        admin.fill("#name", "牛塘快递党小组")
        admin.select_option("#leader", "leader-li")
        admin.get_by_role("button", name="创建小组").click()
        admin.wait_for_url(re.compile(r".*/console/groups/\d+\?done=created$"))
        other = _group_id(admin)

        # The leader edits their own group (no leader to choose), and nothing else.
        leader = _page(browser, base, "leader-wang")
        leader.goto(f"{base}/console/groups/{mine}")
        leader.get_by_role("link", name="编辑小组").click()
        assert leader.locator("#leader").count() == 0
        leader.fill("#name", "")
        leader.get_by_role("button", name="保存").click()
        expect(leader.locator("#name-error")).to_have_text("小组名称须为2到40个字。")
        leader.fill("#name", "湖塘外卖骑手第一党小组")
        leader.select_option("#industry", "网约车")
        leader.get_by_role("button", name="保存").click()
        leader.wait_for_url(f"{base}/console/groups/{mine}?done=saved")
        expect(leader.locator("h1")).to_contain_text("湖塘外卖骑手第一党小组")
        expect(leader.locator("h1")).to_contain_text("网约车")
        for path in (f"/console/groups/{other}", f"/console/groups/{other}/edit",
                     f"/console/groups/{other}/invite", "/console/groups/new",
                     f"/console/groups/{other}/activities/new"):
            assert _status(leader, base + path) == 403, path
            expect(leader.locator("h1")).to_contain_text("没有权限")
        leader.goto(f"{base}/console/groups/{mine}/edit")
        token = leader.locator("input[name=_csrf]").last.input_value()
        for path, form in ((f"/console/groups/{mine}/edit",
                            {"name": "湖塘", "industry": "网约车", "leader": "leader-li"}),
                           ("/console/groups/new", {"name": "新小组", "industry": "网约车"}),
                           (f"/console/groups/{other}/invite", {})):
            refused = leader.request.post(base + path, form={"_csrf": token, **form},
                                          max_redirects=0)
            assert refused.status == 403, path
        leader.goto(f"{base}/console/groups")
        expect(leader.locator("main")).not_to_contain_text("牛塘快递党小组")
        assert leader.get_by_role("link", name="新建小组").count() == 0

        # A new invite code: the old one stops working in WeChat, the new one works.
        leader.goto(f"{base}/console/groups/{mine}/invite")
        old = leader.locator("#invite-code").inner_text()
        assert say(base, "o-rider00", f"加入小组 {old}").startswith("✅")
        leader.get_by_role("button", name="生成新邀请码").click()
        leader.wait_for_url(f"{base}/console/groups/{mine}/invite?done=recoded")
        new = leader.locator("#invite-code").inner_text()
        assert new != old
        expect(leader.locator("p.ok")).to_contain_text(f"已生成新的邀请码 {new}")
        qr = leader.locator("img.qr")
        expect(qr).to_have_attribute("alt", re.compile(new))
        assert leader.evaluate("() => document.querySelector('img.qr').naturalWidth") > 0
        assert say(base, "o-rider01", f"加入小组 {old}") == T.GROUP_UNKNOWN.format(code=old)
        for openid, _, _ in riders[1:]:
            assert say(base, openid, f"加入小组 {new}").startswith("✅"), openid

        # Members: display names, masked phones, the day they joined; searched and paged.
        leader.goto(f"{base}/console/groups/{mine}")
        table = leader.locator("#member-list")
        expect(table.locator("tbody tr")).to_have_count(20)
        expect(table).to_contain_text(riders[0][1])
        expect(table).to_contain_text("139****0000")
        expect(table).to_contain_text(datetime.now(SHANGHAI).strftime("%Y-%m-%d"))
        assert "13900000000" not in leader.content()
        expect(leader.locator("#members")).to_contain_text("第1/2页（22人）")
        leader.get_by_role("link", name="下一页").click()
        expect(table.locator("tbody tr")).to_have_count(2)
        expect(table).to_contain_text(riders[21][1])
        leader.fill("#q", riders[7][1])
        leader.get_by_role("button", name="查找").click()
        expect(table.locator("tbody tr")).to_have_count(1)
        expect(table).to_contain_text("139****0007")
        leader.fill("#q", "0015")
        leader.get_by_role("button", name="查找").click()
        expect(table).to_contain_text(riders[15][1])
        leader.fill("#q", "没有这个人")
        leader.get_by_role("button", name="查找").click()
        expect(leader.locator("#members")).to_contain_text("没有姓名含「没有这个人」")

        # The admin replaces the leader: the old one no longer leads the group.
        admin.goto(f"{base}/console/groups/{other}/edit")
        admin.select_option("#leader", "leader-wang")
        admin.get_by_role("button", name="保存").click()
        admin.wait_for_url(f"{base}/console/groups/{other}?done=saved")
        leader_li = _page(browser, base, "leader-li")
        assert _status(leader_li, f"{base}/console/groups/{other}") == 403

        # An instructor has no 小组 pages at all.
        teacher = _page(browser, base, "teacher-zhao")
        for path in ("/console/groups", f"/console/groups/{mine}", "/console/groups/new",
                     f"/console/groups/{mine}/edit", f"/console/groups/{mine}/invite"):
            assert _status(teacher, base + path) == 404, path


def test_activities_scheduled_rolled_moved_and_cancelled(db_url: str, tmp_path: Path) -> None:
    need_browser()
    from playwright.sync_api import expect

    with running_server(tmp_path, db_url) as (base, env), chromium() as browser:
        _user(env, "leader-wang", "leader")
        _user(env, "leader-li", "leader")
        _user(env, "teacher-zhao", "instructor")
        made = run_cli(["create-group", "湖塘外卖骑手党小组", "--industry", "外卖送餐",
                        "--leader", "leader-wang"], env)
        invite = re.search(r"邀请码：(\w+)", made.stdout)
        assert made.returncode == 0 and invite, made.stdout + made.stderr
        made = run_cli(["create-group", "牛塘快递党小组", "--industry", "快递物流",
                        "--leader", "leader-li"], env)
        assert made.returncode == 0, made.stdout + made.stderr
        _members(env, tmp_path, [("o-zhang", "张三", "13800138001"),
                                 ("o-li", "李四", "13900139002"),
                                 ("o-wu", "吴六", "13700137003")])
        for openid in ("o-zhang", "o-li", "o-wu"):
            assert say(base, openid, f"加入小组 {invite.group(1)}").startswith("✅")

        leader = _page(browser, base, "leader-wang")
        leader.goto(f"{base}/console/groups")
        leader.get_by_role("link", name="湖塘外卖骑手党小组").click()
        group = _group_id(leader)
        leader.get_by_role("link", name="安排活动").click()

        # Bad input: each reason beside its field, what was typed kept.
        leader.fill("#topic", "学")
        leader.fill("#lat", "31.7093")
        leader.fill("#radius_m", "3")
        leader.fill("#online_url", "ftp://example.com/x")
        leader.get_by_role("button", name="安排并通知成员").click()
        expect(leader.locator("#start-error")).to_have_text(T.ACTIVITY_TIME_BAD)
        expect(leader.locator("#lat-error")).to_have_text(T.ACTIVITY_LATLNG_BAD)
        expect(leader.locator("#radius_m-error")).to_have_text(T.ACTIVITY_RADIUS_BAD)
        expect(leader.locator("#online_url-error")).to_have_text(T.ACTIVITY_URL_BAD)
        expect(leader.locator("#topic")).to_have_value("学")
        expect(leader.locator("#online_url")).to_have_value("ftp://example.com/x")
        now = datetime.now(SHANGHAI)
        leader.fill("#start", _local(now - timedelta(hours=1)))
        leader.fill("#end", _local(now))
        leader.fill("#lng", "119.9512")
        leader.fill("#radius_m", "300")
        leader.fill("#online_url", "")
        leader.get_by_role("button", name="安排并通知成员").click()
        expect(leader.locator("#topic-error")).to_have_text("主题须为2到60个字。")
        leader.fill("#topic", "学习新思想")
        leader.get_by_role("button", name="安排并通知成员").click()
        expect(leader.locator("#start-error")).to_have_text("开始时间须晚于现在。")
        start = now + timedelta(minutes=20)  # inside the attendance window already
        leader.fill("#start", _local(start))
        leader.fill("#end", _local(start - timedelta(minutes=5)))
        leader.get_by_role("button", name="安排并通知成员").click()
        expect(leader.locator("#end-error")).to_contain_text("结束时间须晚于开始时间")
        leader.fill("#end", _local(start + timedelta(hours=1)))
        leader.select_option("#kind", "党小组会")
        leader.fill("#place", "湖塘红色驿站")
        leader.get_by_role("button", name="安排并通知成员").click()
        leader.wait_for_url(re.compile(
            rf".*/console/groups/{group}/activities/\d+\?done=scheduled$"))
        expect(leader.locator("p.ok")).to_contain_text("已安排活动")
        detail = leader.url.split("?")[0]
        for openid in ("o-zhang", "o-li", "o-wu"):
            pushed(base, openid, "【小组活动】党小组会「学习新思想」")

        # 到 and 请假 through WeChat: the roll and the leave requests show them.
        assert say(base, "o-zhang", "到").startswith("✅ 已签到")
        assert say(base, "o-li", "请假 今晚在送单").startswith("已请假")
        leader.goto(detail)
        roll = leader.locator("#roll")
        expect(roll.locator("tr", has_text="张三")).to_contain_text("到")
        expect(roll.locator("tr", has_text="李四")).to_contain_text("今晚在送单")
        expect(roll.locator("tr", has_text="吴六")).to_contain_text("未签到")
        expect(leader.locator("#n-present")).to_have_text("1")
        expect(leader.locator("#n-leave")).to_have_text("1")
        expect(leader.locator("#leaves")).to_contain_text("李四")
        expect(leader.locator("#leaves")).to_contain_text("今晚在送单")
        expect(leader.locator("main")).to_contain_text(
            f"{start:%Y-%m-%d %H:%M}–{start + timedelta(hours=1):%H:%M}（北京时间）")

        # Another leader and an instructor are refused.
        other = _page(browser, base, "leader-li")
        assert _status(other, detail) == 403
        assert _status(other, f"{base}/console/groups/{group}/activities/new") == 403
        teacher = _page(browser, base, "teacher-zhao")
        assert _status(teacher, detail) == 404
        assert _status(teacher, f"{base}/console/groups/{group}/activities/new") == 404
        teacher.goto(f"{base}/console/")
        token = teacher.locator("input[name=_csrf]").first.input_value()
        refused = teacher.request.post(f"{detail}/cancel", max_redirects=0,
                                       form={"_csrf": token, "reason": "讲师不能取消"})
        assert refused.status == 404

        # Moved: a bad time is explained and kept; then a new time and place, members told,
        # the reminders planned for the new start.
        later = (now + timedelta(days=2)).replace(hour=19, minute=30, second=0, microsecond=0)
        leader.fill("#start", _local(later))
        leader.fill("#end", _local(later + timedelta(hours=13)))
        leader.get_by_role("button", name="改期并通知成员").click()
        expect(leader.locator("#end-error")).to_contain_text("最长12小时")
        expect(leader.locator("#start")).to_have_value(_local(later))
        leader.fill("#end", _local(later + timedelta(hours=1)))
        leader.fill("#place", "牛塘红色驿站")
        leader.get_by_role("button", name="改期并通知成员").click()
        leader.wait_for_url(f"{detail}?done=moved")
        expect(leader.locator("main")).to_contain_text("牛塘红色驿站")
        expect(leader.locator("main")).to_contain_text(f"{later:%Y-%m-%d %H:%M}")
        pushed(base, "o-wu", "【小组活动改期】党小组会「学习新思想」")
        pushed(base, "o-wu", f"{later:%m-%d %H:%M}-{later + timedelta(hours=1):%H:%M} 牛塘红色驿站")
        activity_id = int(detail.rsplit("/", 1)[1])
        due = {r.slot: r for r in _due(db_url, activity_id) if r.status == "pending"}
        assert {s: r.due_at for s, r in due.items() if s != "roll"} == {
            "86400": later - timedelta(days=1), "3600": later - timedelta(hours=1)}
        assert due["roll"].due_at == later + timedelta(hours=1)

        # Cancelled with a reason: the members are told it, nothing more is due.
        leader.get_by_role("button", name="取消活动并通知成员").click()
        expect(leader.locator("#reason-error")).to_have_text(T.ACTIVITY_REASON_BAD)
        leader.fill("#reason", "场地临时{不能}使用")
        leader.get_by_role("button", name="取消活动并通知成员").click()
        leader.wait_for_url(f"{detail}?done=cancelled")
        expect(leader.locator("#activity-state")).to_have_text("已取消")
        expect(leader.locator("#roll")).to_contain_text("今晚在送单")  # the roll stays
        assert leader.get_by_role("button", name="取消活动并通知成员").count() == 0
        for openid in ("o-zhang", "o-li", "o-wu"):
            pushed(base, openid, "已取消。原因：场地临时{不能}使用")
        assert not [r for r in _due(db_url, activity_id) if r.status == "pending"]
        leader.goto(f"{base}/console/groups/{group}")
        expect(leader.locator("main")).to_contain_text("已取消")


def _due(db_url: str, activity_id: int) -> list[DuePush]:
    """The activity's due rows, read in a thread of its own (Playwright's sync API holds
    an event loop in this one)."""
    from concurrent.futures import ThreadPoolExecutor

    from tests.processes.test_command_line import all_rows

    with ThreadPoolExecutor(1) as pool:
        rows = pool.submit(all_rows, db_url, DuePush).result(timeout=30)
    return [r for r in rows if r.subject == f"activity:{activity_id}"]
