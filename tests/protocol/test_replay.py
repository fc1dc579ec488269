"""Replay-proof callbacks (issue 15): a plaintext callback's signature covers only the token,
timestamp and nonce. The same (timestamp, nonce, signature) with another body and sender is
refused like a bad signature — also on a second instance sharing the database — while
WeChat's own retries (the same request again) still get the same reply through the dedup.
And wechat.require_safe_mode (on by default in prod) refuses what has no valid Encrypt."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import pytest
from sqlalchemy.exc import DBAPIError
from sqlmodel import select

from bot import texts as T
from bot.app import SERVICES, _housekeeping
from bot.dev.peer import Mode, SignedRequest
from bot.settings import Settings
from models import replay
from models.checkin import Checkin
from models.member import Member
from models.replay import SeenCallback
from tests.chat.test_stations import seed
from tests.conftest import Bot, BotFactory, Reply


async def send(bot: Bot, signed: SignedRequest, body: str | None = None) -> Reply:
    """One POST of a signed request as it was signed, or with another body under the same
    query (what someone who saw the signed URL could send)."""
    resp = await bot.client.post("/wechat", params=signed.params,
                                 data=(signed.body if body is None else body).encode(),
                                 headers={"Content-Type": "text/xml"})
    text = await resp.text()
    fields = bot.peer.read_reply(text, signed.mode) if resp.status == 200 else None
    return Reply(resp.status, text, fields)


async def members(sessions: Any) -> set[str]:
    async with sessions() as s:
        return set((await s.exec(select(Member.openid))).all())


async def test_a_replayed_signature_with_another_body_and_sender_is_refused(
        bot: Bot, sessions: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    signed = bot.peer.sign(bot.peer.text("o-rider", "帮助", create_time=bot.now_ts),
                           timestamp=bot.now_ts)
    first = await send(bot, signed)
    assert first.status == 200 and T.HELP_HEADER in (first.text or "")

    forged = bot.peer.text("o-intruder", "注册", create_time=bot.now_ts)
    replay = await send(bot, signed, forged)
    assert replay.status == 403 and replay.body == "signature already used\n"
    assert "o-intruder" not in await members(sessions)  # refused before any effect
    refusals = [r.getMessage() for r in caplog.records if "replay" in r.getMessage()]
    assert refusals and not any("o-intruder" in m or "o-rider" in m for m in refusals)

    again = await send(bot, signed)  # the first body is still WeChat retrying: answered
    assert again.status == 200 and again.text == first.text


async def test_the_replay_is_refused_by_another_instance_on_the_same_database(
        make_bot: BotFactory, sessions: Any) -> None:
    one, two = await make_bot(), await make_bot()
    signed = one.peer.sign(one.peer.text("o-rider", "帮助", create_time=one.now_ts),
                           timestamp=one.now_ts)
    assert (await send(one, signed)).status == 200
    replay = await send(two, signed, two.peer.text("o-intruder", "我的", create_time=two.now_ts))
    assert replay.status == 403
    assert "o-intruder" not in await members(sessions)


async def test_racing_first_and_replay_on_two_instances_one_body_wins(
        make_bot: BotFactory, sessions: Any) -> None:
    one, two = await make_bot(), await make_bot()
    signed = one.peer.sign(one.peer.text("o-rider", "帮助", create_time=one.now_ts),
                           timestamp=one.now_ts)
    forged = two.peer.text("o-intruder", "帮助", create_time=two.now_ts)
    a, b = await asyncio.gather(send(one, signed), send(two, signed, forged))
    assert sorted([a.status, b.status]) == [200, 403]
    assert len(await members(sessions) & {"o-rider", "o-intruder"}) == 1


@pytest.mark.parametrize("mode", ["plain", "compatible", "aes"])
async def test_wechat_retries_of_the_same_message_still_get_the_same_reply(
        make_bot: BotFactory, sessions: Any, mode: Mode) -> None:
    """WeChat sends the same request again (3 tries in all) when the answer is slow, to
    any instance: each gets the first reply, and the check-in happens once."""
    one, two = await make_bot(), await make_bot()
    await seed(sessions, one.clock)
    await one.phone("o-rider", mode).register()
    xml = one.peer.event("o-rider", "SCAN", "st:HT01", create_time=one.now_ts)
    signed = one.peer.sign(xml, mode, timestamp=one.now_ts)
    replies = [await send(bot, signed) for bot in (one, two, one)]
    assert [r.status for r in replies] == [200, 200, 200]
    assert "签到成功" in (replies[0].text or "")
    assert replies[1].text == replies[2].text == replies[0].text
    async with sessions() as s:
        assert len((await s.exec(select(Checkin))).all()) == 1


async def test_seen_signatures_are_forgotten_once_their_timestamp_is_refused_anyway(
        bot: Bot, sessions: Any) -> None:
    signed = bot.peer.sign(bot.peer.text("o-rider", "帮助", create_time=bot.now_ts),
                           timestamp=bot.now_ts)
    assert (await send(bot, signed)).status == 200
    services = bot.client.app[SERVICES]
    await _housekeeping(services, bot.clock.now())
    async with sessions() as s:
        assert len((await s.exec(select(SeenCallback))).all()) == 1  # still within the skew
    skew = bot.settings.wechat.max_clock_skew_s
    bot.clock.advance(seconds=skew + 1)
    late = await send(bot, signed, bot.peer.text("o-intruder", "帮助"))
    assert late.status == 403 and "clock skew" in late.body  # the skew check refuses it
    await _housekeeping(services, bot.clock.now())
    async with sessions() as s:
        assert (await s.exec(select(SeenCallback))).all() == []


def safe_only(settings: Settings, value: bool | None = True) -> Settings:
    return settings.model_copy(update={"wechat": settings.wechat.model_copy(
        update={"require_safe_mode": value})})


def test_require_safe_mode_defaults_on_in_prod_and_off_in_dev(settings: Settings) -> None:
    assert settings.mode == "dev" and settings.require_safe_mode is False
    prod = settings.model_copy(deep=True)
    prod.mode = "prod"
    assert prod.require_safe_mode is True
    assert safe_only(prod, False).require_safe_mode is False  # an explicit false holds
    assert safe_only(settings, True).require_safe_mode is True


async def test_require_safe_mode_refuses_plaintext(make_bot: BotFactory, settings: Settings,
                                                   sessions: Any) -> None:
    bot = await make_bot(safe_only(settings))
    plain = await bot.post(bot.peer.text("o-plain", "帮助", create_time=bot.now_ts))
    assert plain.status == 403 and "safe mode required" in plain.body
    assert "o-plain" not in await members(sessions)
    # A body with an Encrypt but sent as plaintext (no encrypt_type=aes): refused too.
    signed = bot.peer.sign(bot.peer.text("o-plain", "帮助", create_time=bot.now_ts),
                           "compatible", timestamp=bot.now_ts)
    bare = {k: v for k, v in signed.params.items() if k not in ("encrypt_type",
                                                                "msg_signature")}
    resp = await bot.client.post("/wechat", params=bare, data=signed.body.encode())
    assert resp.status == 403
    safe = await bot.post(bot.peer.text("o-safe", "帮助", create_time=bot.now_ts), "aes")
    assert safe.status == 200 and T.HELP_HEADER in (safe.text or "")


async def test_require_safe_mode_uses_only_the_encrypt_of_a_compatible_body(
        make_bot: BotFactory, settings: Settings, sessions: Any) -> None:
    bot = await make_bot(safe_only(settings))
    xml = bot.peer.text("o-compat", "帮助", create_time=bot.now_ts)
    signed = bot.peer.sign(xml, "compatible", timestamp=bot.now_ts)
    # The plaintext fields say someone else and something else: only the Encrypt counts.
    tampered = signed.body.replace("o-compat", "o-intruder").replace("帮助", "注册")
    answered = await send(bot, signed, tampered)
    assert answered.status == 200 and T.HELP_HEADER in (answered.text or "")
    assert answered.fields is not None and answered.fields["ToUserName"] == "o-compat"
    assert "o-intruder" not in await members(sessions)

    other = bot.peer.sign(bot.peer.text("o-compat", "我的", create_time=bot.now_ts),
                          "compatible", timestamp=bot.now_ts)
    no_encrypt = other.body.split("<Encrypt>")[0] + "</xml>"
    missing = await send(bot, other, no_encrypt)
    assert missing.status == 400 and "no Encrypt" in missing.body
    wrong = await send(bot, other, other.body.replace("<Encrypt><![CDATA[",
                                                      "<Encrypt><![CDATA[x"))
    assert wrong.status == 403 and "bad msg_signature" in wrong.body


async def test_prod_refuses_plaintext_by_default(make_bot: BotFactory, settings: Settings
                                                 ) -> None:
    prod = settings.model_copy(deep=True)
    prod.mode = "prod"
    bot = await make_bot(prod, sandbox=False, background=False)
    plain = await bot.post(bot.peer.text("o-plain", "帮助", create_time=bot.now_ts))
    assert plain.status == 403 and "safe mode required" in plain.body
    safe = await bot.post(bot.peer.text("o-safe", "帮助", create_time=bot.now_ts), "aes")
    assert safe.status == 200 and T.HELP_HEADER in (safe.text or "")


async def test_an_unknown_event_uses_up_its_signature_too(bot: Bot, sessions: Any) -> None:
    """Nothing is handled for an event type the bot does not know, but its signature is
    noted all the same: another body under it is a replay."""
    signed = bot.peer.sign(bot.peer.event("o-rider", "some_future_event",
                                          create_time=bot.now_ts), timestamp=bot.now_ts)
    first = await send(bot, signed)
    assert first.status == 200 and first.body == "success"
    forged = bot.peer.text("o-intruder", "注册", create_time=bot.now_ts)
    replayed = await send(bot, signed, forged)
    assert replayed.status == 403 and replayed.body == "signature already used\n"
    assert "o-intruder" not in await members(sessions)


async def test_a_failed_callback_still_uses_up_its_signature(
        bot: Bot, sessions: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A callback whose transaction fails (and rolls back the note of its signature with
    everything else) gets the apology, and its signature is noted apart: WeChat will not
    retry it, and another body under it is refused."""
    from models import claim

    real = claim.sender

    async def broken(*_: Any, **__: Any) -> Any:
        raise RuntimeError("a handler's bug")

    monkeypatch.setattr(claim, "sender", broken)
    signed = bot.peer.sign(bot.peer.text("o-rider", "帮助", create_time=bot.now_ts),
                           timestamp=bot.now_ts)
    first = await send(bot, signed)
    assert first.status == 200 and first.text == T.ERROR
    monkeypatch.setattr(claim, "sender", real)

    forged = bot.peer.text("o-intruder", "注册", create_time=bot.now_ts)
    replayed = await send(bot, signed, forged)
    assert replayed.status == 403 and replayed.body == "signature already used\n"
    assert "o-intruder" not in await members(sessions)
    again = await send(bot, signed)  # the same request again is WeChat's: handled now
    assert again.status == 200 and T.HELP_HEADER in (again.text or "")


@pytest.mark.parametrize("fault", ["refused", "slow"])
async def test_when_the_replay_check_cannot_be_made_nothing_is_handled(
        make_bot: BotFactory, settings: Settings, sessions: Any,
        monkeypatch: pytest.MonkeyPatch, fault: str) -> None:
    """The seen-signature table out of reach. It is noted in the callback's own transaction
    (one transaction per callback), so this is the pipeline's own failure: the database
    refusing gets the apology at once; a database too slow for WeChat's deadline gets
    `success` within the reply budget, like any slow handler. Never a 500, never a hang,
    and nothing is handled without the check."""

    async def unreachable(*_: Any, **__: Any) -> bool:
        if fault == "slow":
            await asyncio.sleep(30)
        raise ConnectionRefusedError("database down")

    monkeypatch.setattr(replay, "first_or_retry", unreachable)
    budget = settings.wechat.model_copy(update={"reply_budget_s": 0.5})
    bot = await make_bot(settings.model_copy(update={"wechat": budget}))
    started = time.monotonic()
    reply = await bot.post(bot.peer.text("o-rider", "帮助", create_time=bot.now_ts))
    assert reply.status == 200
    if fault == "refused":
        assert reply.text == T.ERROR
    else:
        assert reply.body == "success"
    assert time.monotonic() - started < 2
    assert "o-rider" not in await members(sessions)


async def test_a_connection_dropped_under_the_replay_check_is_tried_again_once(
        bot: Bot, monkeypatch: pytest.MonkeyPatch) -> None:
    """After a database restart the first statement on a pooled connection fails; the
    check runs once more on a fresh one, so the callback is answered normally."""
    real = replay.first_or_retry
    calls: list[int] = []

    async def dropped_once(*args: Any, **kw: Any) -> bool:
        calls.append(1)
        if len(calls) == 1:
            raise DBAPIError("INSERT", {}, ConnectionResetError("gone"),
                             connection_invalidated=True)
        return await real(*args, **kw)

    monkeypatch.setattr(replay, "first_or_retry", dropped_once)
    reply = await bot.post(bot.peer.text("o-rider", "帮助", create_time=bot.now_ts))
    assert reply.status == 200 and T.HELP_HEADER in (reply.text or "") and len(calls) == 2


async def test_a_digit_moved_between_timestamp_and_nonce_is_no_new_signature(
        bot: Bot, sessions: Any) -> None:
    """The signature hashes token, timestamp and nonce sorted and joined: "0123456780" +
    "1700000000" and "012345678" + "01700000000" join to the same string. Such a respelled
    request is refused (a timestamp has no leading zero; the replay key is the signature)."""
    from bot.dev.peer import _sign

    ts, nonce = str(bot.now_ts), "0123456780"
    signature = _sign(bot.peer.token, ts, nonce)
    moved_ts, moved_nonce = "0" + ts, nonce[:-1]
    assert _sign(bot.peer.token, moved_ts, moved_nonce) == signature  # the attack's premise
    params = {"signature": signature, "timestamp": ts, "nonce": nonce, "openid": "hidden"}
    first = await send(bot, SignedRequest(params, bot.peer.text("o-rider", "帮助",
                                                                 create_time=bot.now_ts),
                                          "plain"))
    assert first.status == 200
    moved = {**params, "timestamp": moved_ts, "nonce": moved_nonce}
    forged = bot.peer.text("o-intruder", "注册", create_time=bot.now_ts)
    refused = await send(bot, SignedRequest(moved, forged, "plain"))
    assert refused.status == 403
    assert "o-intruder" not in await members(sessions)
