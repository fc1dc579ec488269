"""订阅通知 as a channel and WeChat's delivery receipts: grants arrive as signed callbacks,
the worker sends to the sandbox over HTTP, receipts come back as signed callbacks.

The channel order is 客服 (inside the window, allowance left) → 订阅通知 (a grant for the
kind's template) → template → undeliverable with the reason."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from sqlmodel import select

from bot.push import channels
from models.member import Member
from models.outbox import Push
from models.subscribe import SubscribeGrant
from tests.conftest import Bot
from tests.push.test_outbox import (
    fault,
    notify,
    quiet_bot,
    registered,
    rows,
    send_all,
    worker_of,
)

__all__ = ["quiet_bot"]  # the fixture, shared with test_outbox.py

SUB_NOTICE = "demo-sub-notice"
SUB_REPORT = "demo-sub-report-status"


async def control(bot: Bot, path: str, body: dict[str, Any]) -> dict[str, Any]:
    """A control call to the sandbox over HTTP (what a user's taps in WeChat would set)."""
    async with aiohttp.ClientSession() as http, http.post(
            f"{bot.sandbox.url}/control/{path}", json=body) as resp:
        assert resp.status == 200, await resp.text()
        return await resp.json()


async def grant(bot: Bot, openid: str, template_id: str, *, long_term: bool = False,
                accept: bool = True) -> None:
    """The member taps 允许 (or 取消) in a 订阅通知 popup: WeChat records it and tells us."""
    await control(bot, "subscribe", {"openid": openid, "template_id": template_id,
                                     "accept": accept, "long_term": long_term})
    xml = bot.peer.subscribe_popup(openid, {template_id: "accept" if accept else "reject"},
                                   create_time=bot.now_ts)
    reply = await bot.post(xml)
    assert reply.status == 200 and reply.fields is None  # "success": nothing shown


async def grants_of(sessions, openid: str) -> dict[str, tuple[int, bool]]:
    async with sessions() as s:
        found = await s.exec(select(SubscribeGrant).join(
            Member, Member.id == SubscribeGrant.member_id).where(Member.openid == openid))
        return {g.template_id: (g.one_time, g.long_term) for g in found.all()}


async def outside_window(bot: Bot, openid: str) -> None:
    await registered(bot, openid)
    bot.clock.advance(days=3)


# --- grants --------------------------------------------------------------------------------


async def test_popup_grants_are_stored_once_per_event_even_when_wechat_retries(
        quiet_bot: Bot, sessions) -> None:
    bot = quiet_bot
    await registered(bot, "o-pop")
    xml = bot.peer.subscribe_popup("o-pop", {SUB_NOTICE: "accept", SUB_REPORT: "reject"},
                                   create_time=bot.now_ts)
    for _ in range(3):  # WeChat's retries of the one event
        assert (await bot.post(xml)).status == 200
    assert await grants_of(sessions, "o-pop") == {SUB_NOTICE: (1, False), SUB_REPORT: (0, False)}
    bot.clock.advance(seconds=5)  # a second popup later: one more one-time grant
    await bot.post(bot.peer.subscribe_popup("o-pop", {SUB_NOTICE: "accept"},
                                            create_time=bot.now_ts))
    assert (await grants_of(sessions, "o-pop"))[SUB_NOTICE] == (2, False)


async def test_settings_change_withdraws_every_grant(quiet_bot: Bot, sessions) -> None:
    bot = quiet_bot
    await registered(bot, "o-chg")
    await grant(bot, "o-chg", SUB_NOTICE)
    bot.clock.advance(seconds=2)
    await grant(bot, "o-chg", SUB_NOTICE)
    assert (await grants_of(sessions, "o-chg"))[SUB_NOTICE] == (2, False)
    bot.clock.advance(seconds=2)
    await bot.post(bot.peer.subscribe_change("o-chg", [SUB_NOTICE], create_time=bot.now_ts))
    assert (await grants_of(sessions, "o-chg"))[SUB_NOTICE] == (0, False)


# --- the channel order ---------------------------------------------------------------------


async def test_inside_the_window_kefu_comes_before_a_grant(quiet_bot: Bot, sessions) -> None:
    bot = quiet_bot
    await registered(bot, "o-kf")
    bot.clock.advance(minutes=2)
    await grant(bot, "o-kf", SUB_NOTICE)
    counts = await send_all(bot, await notify(bot, "member:o-kf"))
    assert counts["sent"] == {"kefu": 1}
    assert (await grants_of(sessions, "o-kf"))[SUB_NOTICE] == (1, False)  # not spent


async def test_a_one_time_grant_allows_one_subscribe_message_then_templates(
        quiet_bot: Bot, sessions) -> None:
    bot = quiet_bot
    await outside_window(bot, "o-one")
    await grant(bot, "o-one", SUB_NOTICE)
    counts = await send_all(bot, await notify(bot, "member:o-one", title="学习通知",
                                              body="周五晚八点线上学习"))
    assert counts["sent"] == {"subscribe": 1}
    [sub] = bot.sandbox.delivered("o-one")
    assert sub["channel"] == "subscribe" and sub["template_id"] == SUB_NOTICE
    assert sub["data"]["thing1"] == {"value": "学习通知"}
    assert sub["data"]["thing2"] == {"value": "周五晚八点线上学习"}
    assert (await grants_of(sessions, "o-one"))[SUB_NOTICE] == (0, False)
    counts = await send_all(bot, await notify(bot, "member:o-one", body="第二条"))
    assert counts["sent"] == {"template": 1}  # the grant is used up


async def test_a_long_term_grant_is_not_used_up(make_bot, settings, sessions) -> None:
    subscribe = dict(settings.wechat.subscribe)
    subscribe["notice"] = subscribe["notice"].model_copy(update={"long_term": True})
    long_term = settings.model_copy(update={"wechat": settings.wechat.model_copy(
        update={"subscribe": subscribe})})
    bot = await make_bot(long_term, background=False)
    await outside_window(bot, "o-long")
    await grant(bot, "o-long", SUB_NOTICE, long_term=True)
    assert (await grants_of(sessions, "o-long"))[SUB_NOTICE] == (0, True)
    for i in range(3):
        counts = await send_all(bot, await notify(bot, "member:o-long", body=f"第{i}条"))
        assert counts["sent"] == {"subscribe": 1}
    # Withdrawn in the member's settings: templates again.
    await bot.post(bot.peer.subscribe_change("o-long", [SUB_NOTICE], create_time=bot.now_ts))
    await control(bot, "subscribe", {"openid": "o-long", "template_id": SUB_NOTICE,
                                     "accept": False})
    counts = await send_all(bot, await notify(bot, "member:o-long", body="之后"))
    assert counts["sent"] == {"template": 1}


async def test_43101_spends_the_grant_and_falls_through_to_the_template(
        quiet_bot: Bot, sessions) -> None:
    bot = quiet_bot
    await outside_window(bot, "o-43101")
    # We heard of a grant WeChat does not hold (the member withdrew it where no event
    # reached us): WeChat answers 43101.
    await bot.post(bot.peer.subscribe_popup("o-43101", {SUB_NOTICE: "accept"},
                                            create_time=bot.now_ts))
    counts = await send_all(bot, await notify(bot, "member:o-43101"))
    assert counts["sent"] == {"template": 1}
    assert [m["channel"] for m in bot.sandbox.delivered("o-43101")] == ["template"]
    assert bot.sandbox.state.calls["/cgi-bin/message/subscribe/bizsend"] == 1
    assert (await grants_of(sessions, "o-43101"))[SUB_NOTICE] == (0, False)


async def test_a_grant_spent_on_a_send_that_failed_for_now_is_given_back(
        quiet_bot: Bot, sessions) -> None:
    bot = quiet_bot
    await outside_window(bot, "o-again")
    await grant(bot, "o-again", SUB_NOTICE)
    fault(bot, errcode=-1, times=1, path="/cgi-bin/message/subscribe/")  # WeChat busy
    notice = await notify(bot, "member:o-again")
    await worker_of(bot).run_once()
    [row] = [r for r in await rows(sessions, "o-again") if r.kind == "notice"]
    assert row.status == "pending" and row.attempts == 1
    assert (await grants_of(sessions, "o-again"))[SUB_NOTICE] == (1, False)  # given back
    bot.clock.advance(minutes=11)  # past the backoff
    counts = await send_all(bot, notice)
    assert counts["sent"] == {"subscribe": 1}  # the retry used the grant after all
    assert (await grants_of(sessions, "o-again"))[SUB_NOTICE] == (0, False)


async def test_without_any_channel_the_push_is_undeliverable_with_the_reason(
        make_bot, settings) -> None:
    bare = settings.model_copy(update={"wechat": settings.wechat.model_copy(
        update={"templates": {}})})
    bot = await make_bot(bare, background=False)
    await outside_window(bot, "o-none")
    counts = await send_all(bot, await notify(bot, "member:o-none"))
    assert counts["undeliverable"] == {channels.REASON_NO_CHANNEL: 1}
    # A grant makes it deliverable even with no template configured.
    await grant(bot, "o-none", SUB_NOTICE)
    counts = await send_all(bot, await notify(bot, "member:o-none", body="有授权"))
    assert counts["sent"] == {"subscribe": 1}


# --- receipts ------------------------------------------------------------------------------


async def test_template_receipts_are_recorded_and_a_block_stops_templates(
        quiet_bot: Bot, sessions) -> None:
    bot = quiet_bot
    await outside_window(bot, "o-rcpt")
    notice = await notify(bot, "member:o-rcpt")
    await send_all(bot, notice)
    [sent] = bot.sandbox.delivered("o-rcpt")
    assert sent["receipt"]["Status"] == "success"
    for _ in range(2):  # WeChat may send a receipt again
        await bot.post(bot.peer.receipt("o-rcpt", sent["receipt"], create_time=bot.now_ts))
    [row] = await rows(sessions, "o-rcpt")
    assert (row.receipt, row.receipt_status) == ("delivered", "success")
    counts = await send_all(bot, notice)
    assert counts["receipts"] == {"delivered": {"template": 1}}

    # The member refuses this account's template messages.
    await control(bot, "template-block", {"openid": "o-rcpt", "blocked": True})
    bot.clock.advance(seconds=5)
    await send_all(bot, await notify(bot, "member:o-rcpt", body="第二条"))
    second = bot.sandbox.delivered("o-rcpt")[-1]
    assert second["receipt"]["Status"] == "failed:user block"
    await bot.post(bot.peer.receipt("o-rcpt", second["receipt"], create_time=bot.now_ts))
    async with sessions() as s:
        last = (await s.exec(select(Push).where(Push.openid == "o-rcpt")
                             .order_by(Push.id.desc()))).first()  # type: ignore[union-attr]
        member = (await s.exec(select(Member).where(Member.openid == "o-rcpt"))).one()
    assert last is not None and last.receipt == "blocked"
    assert member.template_blocked_at is not None
    # Later pushes skip the template channel: undeliverable with the reason …
    counts = await send_all(bot, await notify(bot, "member:o-rcpt", body="第三条"))
    assert counts["undeliverable"] == {channels.REASON_TEMPLATE_BLOCKED: 1}
    # … while a 订阅通知 grant or the 客服 window still reach the member.
    await grant(bot, "o-rcpt", SUB_NOTICE)
    counts = await send_all(bot, await notify(bot, "member:o-rcpt", body="第四条"))
    assert counts["sent"] == {"subscribe": 1}
    # Following the account again: templates are tried afresh.
    bot.clock.advance(seconds=5)
    await bot.phone("o-rcpt").event("unsubscribe")
    bot.clock.advance(seconds=5)
    await bot.phone("o-rcpt").event("subscribe")
    bot.clock.advance(days=3)  # outside the event allowance and the window
    counts = await send_all(bot, await notify(bot, "member:o-rcpt", body="第五条"))
    assert counts["sent"] == {"template": 1}


async def test_subscribe_receipts_go_to_the_oldest_open_delivery(quiet_bot: Bot,
                                                                 sessions) -> None:
    bot = quiet_bot
    await outside_window(bot, "o-subr")
    await grant(bot, "o-subr", SUB_NOTICE)
    bot.clock.advance(seconds=1)
    await grant(bot, "o-subr", SUB_NOTICE)
    for body in ("一", "二"):
        counts = await send_all(bot, await notify(bot, "member:o-subr", body=body))
        assert counts["sent"] == {"subscribe": 1}
    first, second = bot.sandbox.delivered("o-subr")
    await bot.post(bot.peer.receipt("o-subr", first["receipt"], create_time=bot.now_ts))
    failed = {**second["receipt"], "ErrorCode": 20004, "ErrorStatus": "failed:user block"}
    bot.clock.advance(seconds=1)
    await bot.post(bot.peer.receipt("o-subr", failed, create_time=bot.now_ts))
    bot.clock.advance(seconds=1)
    await bot.post(bot.peer.receipt("o-subr", failed, create_time=bot.now_ts))  # again
    subs = [r for r in await rows(sessions, "o-subr") if r.channel == "subscribe"]
    assert [(r.receipt, r.wx_msgid) for r in subs] == [
        ("delivered", first["receipt"]["MsgID"]), ("blocked", second["receipt"]["MsgID"])]
    # A blocked 订阅通知 takes the member's grant for that template with it.
    assert (await grants_of(sessions, "o-subr"))[SUB_NOTICE] == (0, False)


async def test_receipts_for_unknown_deliveries_are_answered_quietly(quiet_bot: Bot) -> None:
    bot = quiet_bot
    await registered(bot, "o-stray")
    reply = await bot.post(bot.peer.receipt(
        "o-stray", {"event": "TEMPLATESENDJOBFINISH", "MsgID": 424242,
                    "Status": "failed: system failed"}, create_time=bot.now_ts))
    assert reply.status == 200 and reply.fields is None
    reply = await bot.post(bot.peer.receipt(
        "o-stray", {"event": "subscribe_msg_sent_event", "TemplateId": "unknown-template",
                    "MsgID": 7, "ErrorCode": 0, "ErrorStatus": "success"},
        create_time=bot.now_ts))
    assert reply.status == 200 and reply.fields is None


@pytest.mark.parametrize("mode", ["aes", "compatible"])
async def test_grant_events_work_in_safe_and_compatible_mode(quiet_bot: Bot, sessions,
                                                             mode: str) -> None:
    bot = quiet_bot
    await registered(bot, "o-aes")
    xml = bot.peer.subscribe_popup("o-aes", {SUB_NOTICE: "accept"}, create_time=bot.now_ts)
    reply = await bot.post(xml, mode)  # type: ignore[arg-type]
    assert reply.status == 200
    assert (await grants_of(sessions, "o-aes"))[SUB_NOTICE] == (1, False)


async def test_sandbox_bizsend_keeps_wechats_rules(quiet_bot: Bot) -> None:
    bot = quiet_bot
    await outside_window(bot, "o-rules")
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{bot.sandbox.url}/cgi-bin/token", params={
                "grant_type": "client_credential", "appid": bot.settings.wechat.app_id,
                "secret": bot.settings.wechat.app_secret}) as resp:
            token = (await resp.json())["access_token"]
        url = f"{bot.sandbox.url}/cgi-bin/message/subscribe/bizsend?access_token={token}"

        async def send(data: dict[str, Any]) -> int:
            async with http.post(url, json={"touser": "o-rules", "template_id": SUB_NOTICE,
                                            "data": data}) as resp:
                return (await resp.json())["errcode"]

        assert await send({"thing1": {"value": "好"}}) == 43101  # no grant
        await control(bot, "subscribe", {"openid": "o-rules", "template_id": SUB_NOTICE})
        assert await send({"thing1": {"value": "超" * 21}}) == 47003  # a thing holds 20
        assert await send({"phrase2": {"value": "六个字的状态"}}) == 47003  # a phrase 5
        assert await send({"thing1": {"value": "两行\n文字"}}) == 47003
        assert await send({"thing1": {"value": "好"}}) == 0
        assert await send({"thing1": {"value": "好"}}) == 43101  # the one grant is used
