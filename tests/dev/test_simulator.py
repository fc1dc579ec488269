"""/simulator/: the phone page that talks to /wechat through the real signed protocol.

The aiohttp tests drive its JSON endpoint against an app built with the sandbox (dev
mode); one browser test drives the page itself in Debian's Chromium against a real
`run.py serve`.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any

from bot import texts as T
from models.station_import import import_stations
from tests.browser_util import ARTIFACTS, ROOT, chromium, need_browser, run_cli, running_server
from tests.conftest import Bot, BotFactory, Sandbox

SEND = "/simulator/api/send"
HELP = "【小哥红驿】发送以下文字即可"
NEEDS_PROFILE = "这项服务需要先登记"
STATION = {"code": "HT01", "name": "湖塘红色驿站（演示）", "kind": "驿站",
           "address": "湖塘镇花园街（演示）", "lat": 31.7093, "lng": 119.9512,
           "services": "饮水、充电", "hours": "24h"}


async def send(bot: Bot, **payload: Any) -> tuple[int, dict[str, Any]]:
    resp = await bot.client.post(SEND, json=payload)
    return resp.status, await resp.json()


async def add_station(sessions: Any, clock: Any) -> None:
    async with sessions() as session, session.begin():
        report = await import_stations(session, enumerate([STATION], 1), 200, clock.now())
        assert not report.rejected


def create_times(data: dict[str, Any]) -> list[int]:
    return [int(re.search(r"<CreateTime>(\d+)</CreateTime>", s["request"]).group(1))
            for s in data["steps"]]


async def test_text_goes_through_the_signed_callback_and_returns_the_reply(
        make_bot: BotFactory, sandbox: Sandbox) -> None:
    bot = await make_bot(sandbox=True)
    status, data = await send(bot, openid="sim-1", kind="text", content="帮助")
    assert status == 200, data
    assert data["ok"] and data["replies"][0].startswith(HELP)
    step = data["steps"][0]
    assert step["status"] == 200 and step["query"]["signature"]  # signed, over HTTP
    assert "<MsgId>" in step["request"]
    # WeChat notes the message before it calls the bot: the 客服 window is open.
    assert sandbox.state.users["sim-1"].last_message_at is not None


async def test_menu_clicks_in_one_second_are_two_events_not_a_retry(
        make_bot: BotFactory) -> None:
    """The FakeClock stands still: without the bump the second click would share the
    first one's CreateTime and be taken for WeChat retrying it."""
    bot = await make_bot(sandbox=True)
    status, first = await send(bot, openid="sim-2", kind="click", key="我的签到")
    assert status == 200 and first["replies"][0].startswith(NEEDS_PROFILE)
    status, again = await send(bot, openid="sim-2", kind="click", key="我的签到")
    assert status == 200
    assert create_times(again)[0] == create_times(first)[0] + 1
    assert "您正在登记" in again["replies"][0]  # handled as a new click, inside the dialog

    status, data = await send(bot, openid="sim-3", kind="click", key="帮助")
    assert status == 200 and data["replies"][0].startswith(HELP)


async def test_menu_location_and_scan_buttons(make_bot: BotFactory, sessions: Any,
                                              clock: Any) -> None:
    await add_station(sessions, clock)
    bot = await make_bot(sandbox=True)
    status, data = await send(bot, openid="sim-4", kind="location_select", key="附近驿站",
                              lat=31.7094, lng=119.9513, label="湖塘")
    assert status == 200, data
    assert [s["label"] for s in data["steps"]] == ["location_select 事件", "位置消息"]
    assert "<SendLocationInfo>" in data["steps"][0]["request"]
    assert "湖塘红色驿站（演示）" in data["replies"][-1]  # the nearby list
    assert len(set(create_times(data))) == 2

    phone = bot.phone("sim-5")
    await phone.register()
    status, data = await send(bot, openid="sim-5", kind="scancode_waitmsg", key="扫码签到",
                              scene="st:HT01")
    assert status == 200, data
    assert "<ScanResult><![CDATA[st:HT01]]></ScanResult>" in data["steps"][0]["request"]
    assert "签到成功：湖塘红色驿站（演示）" in data["replies"][0]


async def test_safe_mode_encrypts_and_reads_the_reply(make_bot: BotFactory) -> None:
    bot = await make_bot(sandbox=True)
    status, data = await send(bot, openid="sim-6", kind="text", content="帮助", mode="aes")
    assert status == 200, data
    step = data["steps"][0]
    assert step["query"]["encrypt_type"] == "aes" and "<Encrypt>" in step["body"]
    assert "帮助" not in step["body"] and "<Encrypt>" in step["response"]
    assert data["replies"][0].startswith(HELP)


async def test_a_voice_with_or_without_recognised_words(make_bot: BotFactory) -> None:
    bot = await make_bot(sandbox=True)
    status, data = await send(bot, openid="sim-v", kind="voice")  # no words: no Recognition
    assert status == 200, data
    assert data["steps"][0]["label"] == "语音消息（无识别结果）"
    assert "<MsgType><![CDATA[voice]]>" in data["steps"][0]["request"]
    assert "<Recognition>" not in data["steps"][0]["request"]
    assert data["replies"] == [T.VOICE_UNHEARD]
    status, data = await send(bot, openid="sim-v", kind="voice", content="帮助。")
    assert status == 200 and data["steps"][0]["label"] == "语音消息"
    assert "<Recognition><![CDATA[帮助。]]></Recognition>" in data["steps"][0]["request"]
    assert data["replies"][0].startswith(HELP)


async def test_bad_requests_get_a_400_with_the_reason(make_bot: BotFactory) -> None:
    bot = await make_bot(sandbox=True)
    status, data = await send(bot, openid="sim-7", kind="telepathy")
    assert status == 400 and "未知的 kind" in data["error"] and "text" in data["error"]
    status, data = await send(bot, kind="text", content="帮助")
    assert status == 400 and "缺少 openid" in data["error"]
    status, data = await send(bot, openid="a b<", kind="text", content="帮助")
    assert status == 400 and "openid" in data["error"]
    status, data = await send(bot, openid="sim-7", kind="text")
    assert status == 400 and "content" in data["error"]
    status, data = await send(bot, openid="sim-7", kind="location", lat="north", lng=1)
    assert status == 400 and "lat" in data["error"]
    status, data = await send(bot, openid="sim-7", kind="text", content="帮助", mode="rot13")
    assert status == 400 and "mode" in data["error"]
    resp = await bot.client.post(SEND, data="openid=x&kind=text",
                                 headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert resp.status == 415  # a cross-site form cannot post here
    resp = await bot.client.post(SEND, data="[1]", headers={"Content-Type": "application/json"})
    assert resp.status == 400 and "JSON 对象" in (await resp.json())["error"]


async def test_page_shows_the_menu_and_the_stations(make_bot: BotFactory, sessions: Any,
                                                    clock: Any) -> None:
    await add_station(sessions, clock)
    bot = await make_bot(sandbox=True)
    resp = await bot.client.get("/simulator", allow_redirects=False)
    assert resp.status == 302 and resp.headers["Location"] == "/simulator/"
    resp = await bot.client.get("/simulator/")
    assert resp.status == 200
    html = await resp.text()
    assert "模拟器 · 开发模式" in html
    for word in ("扫码签到", "小哥党校课程", "随手拍", 'data-scene="st:HT01"',
                 "湖塘红色驿站（演示）"):
        assert word in html
    css = await bot.client.get("/simulator/static/simulator.css")
    js = await bot.client.get("/simulator/static/simulator.js")
    assert css.status == 200 and js.status == 200
    assert not re.search(r"(src|href)=\"(https?:)?//", html)  # nothing from the internet


async def test_pushes_are_read_from_the_sandbox_readably(make_bot: BotFactory,
                                                         sandbox: Sandbox) -> None:
    bot = await make_bot(sandbox=True)
    now = "2026-11-28T02:00:05+00:00"
    sandbox.state.messages += [
        {"touser": "sim-8", "channel": "kefu", "msgid": 1, "time": now, "type": "text",
         "content": "【通知】暴雨预警"},
        {"touser": "sim-8", "channel": "template", "msgid": 2, "time": now, "type": "template",
         "template_id": "demo-tmpl-notice", "url": None,
         "data": {"thing1": {"value": "暴雨预警"}, "thing2": {"value": "就近避雨"},
                  "time3": {"value": "2026-11-28 10:00"}}},
        {"touser": "someone-else", "channel": "kefu", "msgid": 3, "time": now, "type": "text",
         "content": "not for sim-8"},
        {"touser": "sim-8", "channel": "template", "msgid": 4, "time": now, "type": "template",
         "template_id": "demo-tmpl-report-status", "url": None,
         "data": {"character_string1": {"value": "R20261128-0001"},
                  "phrase2": {"value": "已办结"}, "thing3": {"value": "灯泡已更换"},
                  "thing4": {"value": "回复1-5评价处理结果"},
                  "time5": {"value": "2026年11月28日 10:00"}}},
    ]
    resp = await bot.client.get("/simulator/api/pushes", params={"openid": "sim-8"})
    assert resp.status == 200
    pushes = (await resp.json())["pushes"]
    assert [p["channel_label"] for p in pushes] == ["客服消息", "模板消息", "模板消息"]
    assert pushes[0]["text"] == "【通知】暴雨预警" and pushes[0]["time"] == "10:00:05"
    assert pushes[1]["title"] == "通知"
    assert pushes[1]["rows"] == [["标题", "暴雨预警"], ["内容", "就近避雨"],
                                 ["时间", "2026-11-28 10:00"]]
    # Labelled by the value config maps to each field (report.ticket → 单号 …).
    assert pushes[2]["title"] == "上报进度"
    assert pushes[2]["rows"] == [["单号", "R20261128-0001"], ["状态", "已办结"],
                                 ["说明", "灯泡已更换"], ["评价", "回复1-5评价处理结果"],
                                 ["时间", "2026年11月28日 10:00"]]
    resp = await bot.client.get("/simulator/api/pushes")
    assert resp.status == 400


async def test_not_mounted_without_the_sandbox_or_in_prod(make_bot: BotFactory,
                                                          settings: Any) -> None:
    bot = await make_bot(sandbox=False)
    for path in ("/simulator", "/simulator/", "/simulator/static/simulator.js"):
        assert (await bot.client.get(path)).status == 404
    assert (await bot.client.post(SEND, json={"openid": "x", "kind": "text",
                                              "content": "帮助"})).status == 404

    prod = settings.model_copy(deep=True)
    prod.mode = "prod"
    assert not prod.is_dev
    bot = await make_bot(prod, sandbox=None, background=False)  # mounted as in production
    for path in ("/simulator", "/simulator/", "/sandbox/messages"):
        assert (await bot.client.get(path, allow_redirects=False)).status == 404


# --- the page in a real browser ---------------------------------------------------------------


def test_browser_chats_registers_and_sees_a_push(tmp_path: Path) -> None:
    """Create an identity, 帮助, register, check in with the menu's scan button, and watch a
    notice sent from the command line arrive as a push bubble."""
    need_browser()
    from playwright.sync_api import expect

    openid = "sim-browser"
    with running_server(tmp_path) as (base, env), chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="zh-CN")
        page.set_default_timeout(10_000)
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(f"{base}/simulator/")
        expect(page.locator(".ribbon")).to_have_text("模拟器 · 开发模式")

        identity = page.locator("#sheet-identity")  # no identity yet: the page asks for one
        expect(identity).to_be_visible()
        page.fill("#openid", openid)
        identity.get_by_role("button", name="使用").click()
        expect(page.locator("#who-name")).to_have_text(openid)

        replies = page.locator(".msg.bot:not(.typing):not(.push) .bubble")

        def say(words: str) -> str:
            n = replies.count()
            page.fill("#text", words)
            page.press("#text", "Enter")
            expect(replies).to_have_count(n + 1)
            return replies.nth(n).inner_text()

        assert say("帮助").startswith(HELP)
        for answer in ("注册", "张三", "13800138000", "2", "美团", "1"):
            say(answer)
        assert "登记完成，张三" in say("同意")

        n = replies.count()
        page.locator(".menu-top", has_text="驿站").click()
        page.locator(".menu-item", has_text="扫码签到").click()
        expect(page.locator("#sheet-scan")).to_be_visible()
        page.locator("#scan-stations .scene[data-scene='st:HT01']").click()
        expect(replies).to_have_count(n + 1)
        assert "签到成功：湖塘红色驿站（演示）" in replies.nth(n).inner_text()

        sent = run_cli(["notify", "--audience", f"member:{openid}", "--title", "暴雨预警",
                        "--body", "下午有暴雨，请就近到红色驿站避雨。"], env)
        assert sent.returncode == 0, sent.stdout + sent.stderr
        push = page.locator(".msg.push").filter(has_text="暴雨预警")
        expect(push).to_be_visible(timeout=15_000)
        expect(push).to_contain_text("推送 · 客服消息")

        page.reload()  # the identity and the conversation are remembered
        expect(page.locator("#who-name")).to_have_text(openid)
        expect(page.locator(".msg.push").filter(has_text="暴雨预警")).to_have_count(1)
        assert errors == [], errors

        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        shot = ARTIFACTS / "simulator.png"
        at_bottom = ("(l => l.scrollTop + l.clientHeight >= l.scrollHeight - 2)"
                     "(document.getElementById('log'))")
        page.wait_for_function(at_bottom)
        page.screenshot(path=str(shot))
        page.set_viewport_size({"width": 390, "height": 844})
        page.evaluate("document.getElementById('log').scrollTop = 1e9")
        page.wait_for_function(at_bottom)
        page.screenshot(path=str(ARTIFACTS / "simulator-phone.png"))
        if os.environ.get("XIAOGE_UPDATE_DOCS") == "1":  # refresh the README's picture
            (ROOT / "docs").mkdir(exist_ok=True)
            shutil.copy(shot, ROOT / "docs" / "simulator.png")
