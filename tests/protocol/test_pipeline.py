"""The reply budget and retries around slow or failing handlers, with routers of the tests' own."""

from __future__ import annotations

import asyncio
import time

import pytest
from sqlalchemy.exc import DBAPIError
from sqlmodel import select

from bot import texts as T
from bot.router import Dispatcher, Router
from bot.settings import Settings
from bot.wechat.message import Inbound
from handlers import require_profile
from models.claim import InboundClaim
from models.member import Member
from tests.conftest import Bot, BotFactory


class Recorder:
    def __init__(self) -> None:
        self.calls = 0


def slow_router(rec: Recorder, seconds: float) -> Router:
    router = Router("slow")

    @router.words("慢")
    async def slow(member: Member) -> str:
        rec.calls += 1
        member.points += 1  # an effect, to count
        await asyncio.sleep(seconds)
        return "慢慢来"

    @router.words("坏")
    async def broken(member: Member) -> str:
        rec.calls += 1
        member.points += 100
        raise RuntimeError("boom")

    return router


def fast_budget(settings: Settings, budget: float) -> Settings:
    return settings.model_copy(
        update={"wechat": settings.wechat.model_copy(update={"reply_budget_s": budget})}
    )


async def points(sessions, openid: str) -> int:
    async with sessions() as s:
        return (await s.exec(select(Member.points).where(Member.openid == openid))).one()


async def test_over_budget_answers_success_and_pushes_the_reply_later(
    make_bot: BotFactory, settings: Settings, sessions
) -> None:
    rec = Recorder()
    bot = await make_bot(fast_budget(settings, 0.3), router=slow_router(rec, 1.0),
                         profile_gate=require_profile)
    xml = bot.peer.text("o-slow", "慢", create_time=bot.now_ts)
    started = time.monotonic()
    reply = await bot.post(xml)
    assert reply.body == "success" and time.monotonic() - started < 0.9
    for _ in range(100):
        if bot.sandbox.delivered("o-slow"):
            break
        await asyncio.sleep(0.05)
    # The reply arrives as a 客服 message: the user has just written, the window is open.
    [pushed] = bot.sandbox.delivered("o-slow")
    assert (pushed["channel"], pushed["content"]) == ("kefu", "慢慢来")
    # WeChat's retry after the answer was deferred: no second run, no second reply.
    again = await bot.post(xml)
    assert again.body == "success"
    assert rec.calls == 1 and await points(sessions, "o-slow") == 1


async def test_retry_while_the_first_is_running_waits_for_its_reply(
    make_bot: BotFactory, settings: Settings, sessions
) -> None:
    rec = Recorder()
    bot = await make_bot(router=slow_router(rec, 0.6), profile_gate=require_profile)
    xml = bot.peer.text("o-wait", "慢", create_time=bot.now_ts)
    first = asyncio.create_task(bot.post(xml))
    await asyncio.sleep(0.2)
    second = await bot.post(xml)
    assert (await first).text == "慢慢来" == second.text
    assert rec.calls == 1 and await points(sessions, "o-wait") == 1
    assert bot.sandbox.delivered() == []


async def test_a_failing_handler_leaves_no_effect_and_a_retry_runs_again(
    make_bot: BotFactory, sessions
) -> None:
    rec = Recorder()
    bot = await make_bot(router=slow_router(rec, 0), profile_gate=require_profile)
    xml = bot.peer.text("o-boom", "坏", create_time=bot.now_ts)
    reply = await bot.post(xml)
    assert reply.status == 200 and reply.text == T.ERROR and "Traceback" not in reply.body
    async with sessions() as s:
        assert (await s.exec(select(InboundClaim))).all() == []
        assert (await s.exec(select(Member))).all() == []  # rolled back with the claim
    await bot.post(xml)
    assert rec.calls == 2


def test_a_handler_asking_for_an_unknown_parameter_fails_at_start() -> None:
    router = Router("typo")

    @router.words("x")
    async def handler(membr: Member) -> str:  # a typo
        return ""

    with pytest.raises(TypeError, match="membr"):
        Dispatcher(router, require_profile)


def test_handlers_must_be_async() -> None:
    with pytest.raises(TypeError):
        Router("sync").words("x")(lambda: "no")  # type: ignore[arg-type]


async def test_regex_captures_and_scene_arguments_are_injected(make_bot: BotFactory) -> None:
    router = Router("args")

    @router.command("加入小组")
    async def join(arg: str) -> str:
        return f"code={arg}"

    @router.scene("grp:")
    async def scanned(scene_arg: str, msg: Inbound) -> str:
        return f"scene={scene_arg} via {msg.event}"

    bot = await make_bot(router=router, profile_gate=require_profile)
    p = bot.phone("o-args")
    assert await p.say("加入小组 ab12cd") == "code=ab12cd"
    assert await p.say("加入小组ＸＹ３４") == "code=XY34"  # full-width, no space
    assert await p.event("SCAN", "grp:Q7") == "scene=Q7 via scan"
    bot.clock.advance(seconds=1)
    assert await p.event("subscribe", "qrscene_grp:Q8") == "scene=Q8 via subscribe_scan"


async def test_events_have_no_dedup_collision_across_users(bot: Bot, sessions) -> None:
    ts = bot.now_ts
    for who in ("o-a", "o-b"):
        assert await bot.phone(who).send(bot.peer.event(who, "subscribe", create_time=ts))
    async with sessions() as s:
        assert len((await s.exec(select(InboundClaim))).all()) == 2


async def test_a_handler_breaking_a_unique_rule_gets_the_apology_not_silence(
    make_bot: BotFactory, sessions
) -> None:
    router = Router("unique")

    @router.words("重")
    async def twice(member: Member, msg: Inbound, session) -> str:
        member.points += 1
        session.add(InboundClaim(key="same", created_at=member.created_at))
        session.add(InboundClaim(key="same", created_at=member.created_at))
        await session.flush()
        return "不会到这里"

    bot = await make_bot(router=router, profile_gate=require_profile)
    reply = await bot.post(bot.peer.text("o-uniq", "重", create_time=bot.now_ts))
    assert reply.status == 200 and reply.text == T.ERROR
    async with sessions() as s:  # rolled back whole: no claim, no point, no member row
        assert (await s.exec(select(InboundClaim))).all() == []
        assert (await s.exec(select(Member))).all() == []


async def test_a_connection_lost_mid_callback_is_tried_again_once(
    make_bot: BotFactory, sessions
) -> None:
    """WeChat does not retry a callback that got an answer, so the bot retries itself
    when the database dropped the connection under it (as after a restart)."""
    router = Router("flaky-db")
    calls: list[int] = []

    @router.words("断")
    async def dropped(member: Member) -> str:
        calls.append(1)
        member.points += 1
        if len(calls) == 1:
            raise DBAPIError("SELECT 1", {}, ConnectionResetError("gone"),
                             connection_invalidated=True)
        return "第二次成功"

    bot = await make_bot(router=router, profile_gate=require_profile)
    reply = await bot.post(bot.peer.text("o-drop", "断", create_time=bot.now_ts))
    assert reply.text == "第二次成功" and len(calls) == 2
    assert await points(sessions, "o-drop") == 1  # the first attempt's point rolled back
    calls.clear()
    again = await bot.post(bot.peer.text("o-drop2", "断", create_time=bot.now_ts))
    assert again.text == "第二次成功"  # once per callback, not once per process


async def test_a_claim_committed_by_another_attempt_wins_over_this_one(
    make_bot: BotFactory, sessions, db_url: str
) -> None:
    """Should a second attempt ever get past the sender's lock, the claim's primary key
    rolls it back and it answers with the first attempt's reply."""
    if db_url.startswith("sqlite"):
        pytest.skip("SQLite: BEGIN IMMEDIATE lets no other writer in while a handler runs")
    router = Router("race")

    @router.words("抢")
    async def race(member: Member, msg: Inbound) -> str:
        member.points += 1  # this attempt's effect: rolled back
        async with sessions() as other, other.begin():  # "the other instance" commits first
            other.add(InboundClaim(key=msg.dedup_key, created_at=member.created_at,
                                   reply="先到的回复"))
        return "后到的回复"

    bot = await make_bot(router=router, profile_gate=require_profile)
    reply = await bot.post(bot.peer.text("o-race", "抢", create_time=bot.now_ts))
    assert reply.text == "先到的回复"
    async with sessions() as s:  # this attempt left nothing, not even the new member row
        assert (await s.exec(select(Member).where(Member.openid == "o-race"))).all() == []
