"""Work orders (issue 17): 签收 / 退单 / 延期 through the signed callback, and the clock's
steps (签收 timeout, 催办, 督办, 回访), reopening, 派单 and 合并 with the FakeClock."""

from __future__ import annotations

from typing import Any

from sqlmodel import col, select

from bot import texts as T
from bot.app import SERVICES
from handlers.reports.jobs import run_orders
from handlers.reports.orders import policy
from models import grid as grids
from models import report as reports
from models import staff
from models import work_order as wo
from models.report import Report, ReportBacker, ReportError, ReportEvent
from models.staff import ConsoleUser
from tests.chat.test_reports import district, file_report, pushes, ticket_of  # noqa: F401
from tests.conftest import Bot

TICKET = "R20261128-0001"  # filed Saturday 28 November 2026, 10:00: 派单 by the system to HT


async def admin(bot: Bot, sessions: Any) -> None:
    async with sessions() as s, s.begin():
        user = await staff.create_user(s, "admin-z", "admin", "password-123", bot.clock.now())
        code = await staff.issue_bind_code(s, user, bot.clock.now())
    assert (await bot.phone("o-admin").say(f"绑定 {code}")).startswith("绑定成功")


async def filed(bot: Bot, openid: str = "o-rider", **kw: Any) -> str:
    await bot.phone(openid).register()
    return ticket_of(await file_report(bot, openid, **kw))


async def load(sessions: Any, ticket: str) -> tuple[Report, list[ReportEvent]]:
    async with sessions() as s:
        report = await reports.by_ticket(s, ticket)
        assert report is not None
        return report, list(await reports.history(s, report.id or 0))


def actions(events: list[ReportEvent]) -> list[str]:
    return [e.action for e in events]


async def tick(bot: Bot) -> int:
    return await run_orders(bot.client.server.app[SERVICES], bot.clock.now())


async def test_acknowledge_once_from_the_grid_only(district: Bot, sessions) -> None:  # noqa: F811
    bot = district
    ticket = await filed(bot)
    report, events = await load(sessions, ticket)
    assert actions(events) == ["受理", "派单"] and report.dispatched_at is not None
    assert wo.local(report.ack_due_at or report.due_at) == "11-30 13:00"  # Mon 09:00 + 4 h
    assert wo.local(report.due_at) == "12-02 17:30"  # 3 working days
    ht, xy = bot.phone("o-officer-ht"), bot.phone("o-officer-xy")
    assert await bot.phone("o-rider").say(f"签收 {ticket}") == T.STAFF_ONLY.format(
        word="签收", roles="网格员")  # a rider is no officer
    assert await xy.say(f"签收 {ticket}") == T.ORDER_ERRORS["not_your_grid"].format(
        ticket=ticket)
    xml = bot.peer.text("o-officer-ht", f"签收　{ticket.lower()}", create_time=bot.now_ts)
    acked = T.ORDER_ACKED.format(ticket=ticket, due="12-02 17:30")
    assert await ht.send(xml) == acked
    await ht.send(xml)  # WeChat's retry of the same message: no second 签收
    assert await ht.say(f"签收 {ticket}") == T.ORDER_ERRORS["already_acked"].format(
        ticket=ticket, status="处理中")
    report, events = await load(sessions, ticket)
    assert actions(events).count("签收") == 1 and report.status == "处理中"
    assert report.acked_at == bot.clock.now()
    told = (await pushes(sessions, "o-rider"))[-1]
    assert told.kind == "report_status" and told.template_data["report.status"] == "处理中"
    assert await ht.say("签收") == T.ORDER_USAGE["签收"]
    assert await ht.say("签收 R20991231-0001") == T.TICKET_UNKNOWN.format(ticket="R20991231-0001")


async def test_give_back_needs_a_reason_and_lands_in_the_queue(district: Bot,  # noqa: F811
                                                               sessions) -> None:
    bot = district
    await admin(bot, sessions)
    ticket = await filed(bot)
    ht, xy = bot.phone("o-officer-ht"), bot.phone("o-officer-xy")
    assert await ht.say(f"退单 {ticket}") == T.ORDER_ERRORS["no_reason"].format(ticket=ticket)
    assert await xy.say(f"退单 {ticket} 不归我管") == T.ORDER_ERRORS["not_your_grid"].format(
        ticket=ticket)
    assert await ht.say(f"退单 {ticket} 不属于本网格") == T.ORDER_GIVEN_BACK.format(
        ticket=ticket, reason="不属于本网格")
    report, events = await load(sessions, ticket)
    assert (report.status, report.grid_code, report.returned, report.return_reason) == (
        "已受理", None, True, "不属于本网格")
    assert actions(events)[-1] == "退单" and events[-1].actor == "officer:officer-ht"
    told = (await pushes(sessions, "o-admin"))[-1]
    assert told.kind == "work_order" and told.template_data["order.action"] == "退单"
    assert "不属于本网格" in told.text
    assert await ht.say(f"退单 {ticket} 再退一次") == T.ORDER_ERRORS["not_your_grid"].format(
        ticket=ticket)  # no longer the grid's
    # An admin dispatches it again (the console's function), to the other grid.
    async with sessions() as s, s.begin():
        r = await reports.by_ticket(s, ticket, lock=True)
        boss = (await s.exec(select(ConsoleUser).where(ConsoleUser.username == "admin-z"))).one()
        xy_grid = await grids.by_code(s, "XY")
        assert r is not None and xy_grid is not None
        await wo.dispatch(s, r, xy_grid, boss, bot.clock.now(), policy(bot.settings))
    report, events = await load(sessions, ticket)
    assert (report.status, report.grid_code, report.returned) == ("已派单", "XY", False)
    assert events[-1].actor == "admin:admin-z" and actions(events)[-1] == "派单"
    assert (await pushes(sessions, "o-officer-xy"))[-1].template_data["order.action"] == "派单"
    assert (await pushes(sessions, "o-rider"))[-1].template_data["report.status"] == "已派单"
    assert await xy.say(f"签收 {ticket}") == T.ORDER_ACKED.format(ticket=ticket,
                                                                 due="12-02 17:30")


async def test_extension_asked_refused_and_approved(district: Bot, sessions) -> None:  # noqa: F811
    bot = district
    await admin(bot, sessions)
    ticket = await filed(bot)
    ht, boss = bot.phone("o-officer-ht"), bot.phone("o-admin")
    assert await ht.say(f"延期 {ticket} 40天 等配件") == T.ORDER_ERRORS["days_range"].format(
        ticket=ticket, low=1, high=30)
    assert await ht.say(f"延期 {ticket} 3天") == T.ORDER_ERRORS["no_reason"].format(
        ticket=ticket)
    assert await ht.say(f"延期 {ticket} 等配件") == T.ORDER_USAGE["延期"]
    asked = T.ORDER_EXTENSION_ASKED.format(ticket=ticket, days=3, due="12-02 17:30")
    assert await ht.say(f"延期 {ticket} 三天 等待路灯配件") == asked
    assert await ht.say(f"延期 {ticket} ３天 再等等") == T.ORDER_ERRORS[
        "extension_pending"].format(ticket=ticket, days=3)
    assert "等待路灯配件" in (await pushes(sessions, "o-admin"))[-1].text
    assert await ht.say(f"驳回延期 {ticket}") == T.STAFF_ONLY.format(word="驳回延期",
                                                                     roles="管理员")
    assert await boss.say(f"驳回延期 {ticket} 请按期办结") == \
        T.ORDER_EXTENSION_REFUSED_REPLY.format(ticket=ticket, due="12-02 17:30")
    told = (await pushes(sessions, "o-officer-ht"))[-1]
    assert told.text == T.ORDER_PUSH_EXTENSION_REFUSED.format(ticket=ticket, due="12-02 17:30",
                                                              note="请按期办结")
    assert await boss.say(f"批准延期 {ticket}") == T.ORDER_ERRORS["no_extension"].format(
        ticket=ticket)
    assert await ht.say(f"延期 {ticket} 2 个工作日 等待配件") == T.ORDER_EXTENSION_ASKED.format(
        ticket=ticket, days=2, due="12-02 17:30")
    assert await boss.say(f"批准延期 {ticket}") == T.ORDER_EXTENSION_APPROVED_REPLY.format(
        ticket=ticket, due="12-04 17:30")  # Wednesday + 2 working days: Friday
    report, events = await load(sessions, ticket)
    assert report.extension_state == "approved" and wo.local(report.due_at) == "12-04 17:30"
    assert actions(events)[2:] == ["申请延期", "驳回延期", "申请延期", "批准延期"]
    assert (await pushes(sessions, "o-officer-ht"))[-1].template_data["order.action"] == "批准延期"
    await ht.say(f"办结 {ticket} 修好了")
    assert await ht.say(f"延期 {ticket} 1天 再看看") == T.ORDER_ERRORS["wrong_status"].format(
        ticket=ticket, status="已办结")


async def test_unacknowledged_goes_back_up_once(district: Bot, sessions) -> None:  # noqa: F811
    bot = district
    await admin(bot, sessions)
    ticket = await filed(bot)
    bot.clock.advance(days=2, hours=2, minutes=59)  # Monday 12:59: still in time
    assert await tick(bot) == 0
    bot.clock.advance(minutes=2)
    assert await tick(bot) == 1
    assert await tick(bot) == 0  # once
    report, events = await load(sessions, ticket)
    assert (report.status, report.grid_code, report.return_reason) == ("已受理", None, "超时未签收")
    assert actions(events)[-1] == "签收超时" and events[-1].actor == "system"
    told = [p for p in await pushes(sessions, "o-admin") if p.kind == "work_order"]
    assert len(told) == 1 and ticket in told[0].text and "签收超时" in told[0].text


async def test_remind_at_the_deadline_then_escalate(district: Bot, sessions) -> None:  # noqa: F811
    bot = district
    await admin(bot, sessions)
    ticket = await filed(bot)
    ht = bot.phone("o-officer-ht")
    await ht.say(f"签收 {ticket}")
    bot.clock.advance(days=4, hours=7, minutes=29)  # Wednesday 17:29
    assert await tick(bot) == 0
    bot.clock.advance(minutes=2)
    assert await tick(bot) == 1 and await tick(bot) == 0
    reminded = (await pushes(sessions, "o-officer-ht"))[-1]
    assert reminded.text == T.ORDER_PUSH_REMIND.format(ticket=ticket, category="道路交通",
                                                       due="12-02 17:30")
    assert reminded.template_data["order.title"] == "工单催办"
    bot.clock.advance(days=2)  # Friday 17:31: 2 working days past the deadline
    assert await tick(bot) == 1 and await tick(bot) == 0
    report, events = await load(sessions, ticket)
    assert report.escalated_at == bot.clock.now() and actions(events)[-2:] == ["催办", "督办"]
    escalated = [p for p in await pushes(sessions, "o-admin") if "督办" in p.text]
    assert len(escalated) == 1 and ticket in escalated[0].text
    assert not [p for p in await pushes(sessions, "o-officer-ht") if "督办" in p.text]
    # The officer's 待办 shows it first, marked.
    other = await filed(bot, "o-rider-2", text="小区门口垃圾堆满了没人清理")
    todo = await ht.say("待办")
    assert todo.splitlines()[1].startswith(f"{T.TODO_ESCALATED}{T.TODO_OVERDUE}{ticket} 处理中")
    assert f"{other} {T.TODO_UNACKED}" in todo  # dispatched, not yet acknowledged


async def test_follow_up_then_a_low_rating_reopens_as_priority(district: Bot,  # noqa: F811
                                                               sessions) -> None:
    bot = district
    ticket = await filed(bot)
    ht, rider = bot.phone("o-officer-ht"), bot.phone("o-rider")
    await ht.say(f"办结 {ticket} 已换灯泡")
    bot.clock.advance(hours=22, minutes=59)  # Sunday 08:59
    assert await tick(bot) == 0
    bot.clock.advance(minutes=1)
    assert await tick(bot) == 1 and await tick(bot) == 0
    asked = (await pushes(sessions, "o-rider"))[-1]
    assert asked.kind == "report_status" and asked.text == T.ORDER_PUSH_FOLLOW_UP.format(
        ticket=ticket)
    assert asked.template_data["report.rate_hint"] == T.REPORT_RATE_HINT
    assert await rider.say("2") == T.RATED_REOPENED.format(ticket=ticket, stars="2")
    report, events = await load(sessions, ticket)
    assert (report.status, report.priority, report.rating, report.grid_code) == (
        "处理中", True, 2, "HT")
    assert wo.local(report.due_at) == "12-02 17:30" and actions(events)[-3:] == [
        "回访", "评价", "重新打开"]
    told = (await pushes(sessions, "o-officer-ht"))[-1]
    assert told.text == T.ORDER_PUSH_REOPENED.format(ticket=ticket, why="评价2星",
                                                     due="12-02 17:30")
    assert T.TODO_PRIORITY + ticket in await ht.say("待办")
    # Resolved again: rated afresh; a good rating reopens nothing.
    await ht.say(f"办结 {ticket} 重新修好")
    assert await rider.say("5") == T.RATED.format(ticket=ticket, stars="5")
    report, _ = await load(sessions, ticket)
    assert (report.status, report.rating) == ("已办结", 5)


async def test_merge_a_duplicate_into_its_original(district: Bot, sessions) -> None:  # noqa: F811
    bot = district
    await admin(bot, sessions)
    original = await filed(bot, "o-first")
    duplicate = await filed(bot, "o-second", where="湖塘花园街路灯旁边", photo=False)
    rules = policy(bot.settings)
    async with sessions() as s, s.begin():
        boss = (await s.exec(select(ConsoleUser).where(ConsoleUser.username == "admin-z"))).one()
        dup, orig = (await reports.by_ticket(s, duplicate)), (await reports.by_ticket(s, original))
        assert dup is not None and orig is not None
        for a, b, code in ((dup, dup, "merge_self"),):
            try:
                await wo.merge(s, a, b, boss, bot.clock.now(), rules)
                raise AssertionError("merged into itself")
            except ReportError as err:
                assert err.code == code
        await wo.merge(s, dup, orig, boss, bot.clock.now(), rules)
    async with sessions() as s, s.begin():
        boss = (await s.exec(select(ConsoleUser).where(ConsoleUser.username == "admin-z"))).one()
        dup, orig = (await reports.by_ticket(s, duplicate)), (await reports.by_ticket(s, original))
        assert dup is not None and orig is not None
        try:
            await wo.merge(s, orig, dup, boss, bot.clock.now(), rules)
            raise AssertionError("merged into a closed report")
        except ReportError as err:
            assert err.code == "merge_target"
        backers = (await s.exec(select(ReportBacker.member_id).where(
            ReportBacker.report_id == orig.id))).all()
    assert list(backers) == [dup.member_id]
    dup_report, dup_events = await load(sessions, duplicate)
    assert (dup_report.status, dup_report.close_reason, dup_report.merged_into_id) == (
        "已关闭", "重复", orig.id)
    _, orig_events = await load(sessions, original)
    assert actions(dup_events)[-1] == "合并" and actions(orig_events)[-1] == "合并"
    told = (await pushes(sessions, "o-second"))[-1]
    assert told.template_data["report.status"] == "已关闭" and original in told.text
    # The duplicate's reporter hears of the original's later changes.
    await bot.phone("o-officer-ht").say(f"办结 {original} 已修")
    later = (await pushes(sessions, "o-second"))[-1]
    assert later.template_data["report.ticket"] == original
    assert later.template_data["report.status"] == "已办结"
    async with sessions() as s:
        n = len((await s.exec(select(ReportEvent).where(
            col(ReportEvent.report_id) == orig.id, ReportEvent.action == "合并"))).all())
    assert n == 1
