"""Demo reports for dev mode: every state of the work-order cycle, made by the domain's own
steps (models/report.py, models/work_order.py) at past times, so the events, deadlines and
timestamps are what real use would leave; spread over the last 60 days, several grids and
categories, so the numbers have months and breakdowns.

Made once (when no demo member has a report yet), all in the demo's transaction. Each state
is chosen to stay put when the work-order job runs at start: the order awaiting 签收 is
still inside its 签收 time, the overdue one is short of 督办, the resolved one not yet due
for 回访. Later starts let them age as real orders would (the job times out, 催办, 督办)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot import texts as T
from bot.dev.demo import DEMO_ADMIN, DEMO_OFFICER, demo_members
from bot.settings import Settings
from handlers.reports.orders import policy as order_policy
from models import geo
from models import report as R
from models import work_order as W
from models.grid import containing
from models.member import Member
from models.report import Draft, Report
from models.staff import ConsoleUser
from models.station import Station
from models.work_order import Policy

DAY, HOUR, MINUTE = timedelta(days=1), timedelta(hours=1), timedelta(minutes=1)
# Older, settled reports: days ago, category, station, what, outcome (stars, or a close
# reason), so 60 days of numbers have months, grids and categories.
HISTORY: tuple[tuple[int, str, str, str, int | str], ...] = (
    (58, "道路交通", "HT01", "花园街路口信号灯不亮，晚高峰很乱", 5),
    (54, "市容环境", "NT01", "长虹路菜场门口垃圾堆了两天没人清", 4),
    (50, "公共设施", "GXQ1", "海湖路电动车充电桩坏了三个", 5),
    (47, "安全隐患", "HT03", "人民东路有电线垂到人行道上", 5),
    (43, "道路交通", "XTH1", "科技园门口路面塌陷一个坑，电动车容易摔", 3),
    (40, "邻里纠纷", "YG01", "小区门口商铺音响噪音很大", "非职责范围"),
    (37, "市容环境", "HT02", "延政中路绿化带里乱堆建筑垃圾", 4),
    (33, "公共设施", "NXS1", "驿站旁公厕水管漏水", 5),
    (29, "道路交通", "GXQ2", "西湖路井盖松动，骑过去哐哐响", 2),
    (26, "其他", "LY01", "希望驿站能加一个雨衣架", "无法处理"),
    (22, "安全隐患", "NT02", "工业园门口燃气味道很重", 5),
)


class Demo:
    """The steps at past times, by the demo accounts."""

    def __init__(self, session: AsyncSession, policy: Policy, now: datetime,
                 stations: dict[str, Station], admin: ConsoleUser, officer: ConsoleUser) -> None:
        self.s, self.p, self.now, self.stations = session, policy, now, stations
        self.admin, self.officer = admin, officer

    async def file(self, member: Member, category: str, text: str, at: datetime,
                   station: str | None = "HT01", nudge: int = 0) -> Report:
        """A report filed at `at` near a station (dispatched by the system to its grid), or
        without a place (the district queue)."""
        point = address = None
        if station is not None:
            s = self.stations[station]
            # Some 350–700 m off the station, where a rider trying the bot stands: a report
            # filed there is no "duplicate" of a demo one (50 m), in the station's grid still.
            point = geo.Point(s.lat - 0.003 - 0.0015 * nudge, s.lng - 0.002 - 0.001 * nudge)
            address = f"{s.address}附近"
        else:
            address = "武进区某小区东门（演示，未发位置）"
        grid = await containing(self.s, point) if point else None
        draft = Draft(description=f"{text}（演示）", category=category, point=point,
                      address=address)
        return await R.create(self.s, member, draft, self.p.due(category, at), at, grid,
                              T.ORDER_PUSH_NEW, self.p.ack_due(at),
                              T.ORDER_TITLES[W.DISPATCH])

    async def ack(self, report: Report, at: datetime) -> None:
        await W.acknowledge(self.s, report, self.officer, at, self.p)

    async def resolve(self, report: Report, at: datetime, note: str) -> None:
        await R.move(self.s, report, R.RESOLVED, W.actor_of(self.officer), note, at,
                     T.REPORT_PUSH_RESOLVED, rate_hint=T.REPORT_RATE_HINT)

    async def close(self, report: Report, at: datetime, reason: str, note: str) -> None:
        await R.move(self.s, report, R.CLOSED, W.actor_of(self.officer), note, at,
                     T.REPORT_PUSH_STATUS, reason)

    async def rated(self, report: Report, member: Member, stars: int) -> None:
        """回访 the morning after 已办结, the rating an hour later (1–2 reopen it)."""
        assert report.resolved_at is not None
        asked = self.p.follow_up_at(report.resolved_at) + 5 * MINUTE
        await W.follow_up(self.s, report, asked, self.p)
        await W.rate(self.s, report, member, stars, asked + HOUR, self.p)

    def dispatched_overdue_at(self, category: str) -> datetime:
        """The latest dispatch time whose deadline has passed (by at least half an hour)
        and whose 督办 is still ahead: an order overdue, 催办 but not yet 督办."""
        at = self.now - HOUR
        while self.p.due(category, at) >= self.now - 30 * MINUTE:
            at -= HOUR
        return at


async def _history(d: Demo, riders: list[Member]) -> int:
    for i, (days, category, station, text, outcome) in enumerate(HISTORY):
        member = riders[i % len(riders)]
        at = d.now - days * DAY + (9 + i % 8) * HOUR
        report = await d.file(member, category, text, at, station, nudge=i % 3)
        await d.ack(report, at + (1 + i % 3) * HOUR)
        if isinstance(outcome, str):
            await d.close(report, at + 5 * HOUR, outcome, "已转交相关部门说明情况")
            continue
        await d.resolve(report, at + (20 + 7 * i % 30) * HOUR, "已联系责任单位处理完毕")
        await d.rated(report, member, outcome)
        if outcome <= W.LOW_RATING:  # reopened: fixed again, rated again
            await d.resolve(report, at + 6 * DAY, "已再次处理并复查")
            await d.rated(report, member, 4)
    return len(HISTORY)


async def _queue(d: Demo, r: list[Member]) -> None:
    """待派单, 签收超时, 退单: the district queue; 已派单 awaiting 签收."""
    n = d.now
    await d.file(r[0], "市容环境", "小区东门外的垃圾桶满了溢出来", n - 3 * HOUR, station=None)
    late = await d.file(r[1], "道路交通", "长虹路公交站旁的路灯连续三晚不亮", n - 3 * DAY, "NT01")
    assert late.ack_due_at is not None
    await W.time_out_ack(d.s, late, late.ack_due_at + 5 * MINUTE, d.p)
    back = await d.file(r[2], "公共设施", "海湖路口的护栏被撞倒了", n - 2 * DAY, "GXQ1", 1)
    await W.give_back(d.s, back, d.officer, "护栏属交通部门管养，不归本网格，请区里改派",
                      n - 2 * DAY + 2 * HOUR, d.p)
    await d.file(r[3], "道路交通", "花园街有个井盖缺了一角，晚上看不清", n - 40 * MINUTE, "HT01", 1)


async def _working(d: Demo, r: list[Member]) -> Report:
    """处理中 (backed by others, a duplicate merged in), 延期 pending and approved."""
    n = d.now
    doing = await d.file(r[4], "道路交通", "人民东路积水很深，电动车熄火好几辆", n - DAY, "HT03")
    await d.ack(doing, n - DAY + HOUR)
    for k, member in enumerate((r[5], r[6], r[7])):
        await R.back(d.s, doing, member, n - DAY + (2 + k) * HOUR)
    dup = await d.file(r[8], "道路交通", "人民东路那段路又积水了", n - 20 * HOUR, "HT03")
    await W.merge(d.s, dup, doing, d.officer, n - 18 * HOUR, d.p)
    ask = await d.file(r[9], "公共设施", "长虹路驿站门口的座椅坏了", n - 2 * DAY, "NT01", 2)
    await d.ack(ask, n - 2 * DAY + 30 * MINUTE)
    await W.request_extension(d.s, ask, d.officer, 3, "需要厂家配件，预计三个工作日到货",
                              n - 5 * HOUR, d.p)
    ok = await d.file(r[10], "市容环境", "西湖路绿化带长期占道堆放杂物", n - 6 * DAY, "GXQ2")
    await d.ack(ok, n - 6 * DAY + HOUR)
    await W.request_extension(d.s, ok, d.officer, 5, "涉及多家商户，需联合城管清理",
                              n - 3 * DAY, d.p)
    await W.approve_extension(d.s, ok, d.admin, "同意，请按期办结", n - 2 * DAY, d.p)
    return doing


async def _late(d: Demo, r: list[Member]) -> None:
    """Overdue with 催办; 督办 escalated."""
    at = d.dispatched_overdue_at("安全隐患")
    late = await d.file(r[11], "安全隐患", "工业园路边有高空坠物的危险广告牌", at, "NT02")
    await d.ack(late, at + 30 * MINUTE)
    await W.remind(d.s, late, late.due_at + 10 * MINUTE, d.p)
    old = d.now - 12 * DAY
    esc = await d.file(r[12], "道路交通", "湖塘老街斑马线完全看不见了", old, "HT02", 1)
    await d.ack(esc, old + HOUR)
    await W.remind(d.s, esc, esc.due_at + 10 * MINUTE, d.p)
    escalate_at = d.p.escalate_at(esc.due_at) + 10 * MINUTE
    if escalate_at < d.now:
        await W.escalate(d.s, esc, escalate_at, d.p)


async def _done(d: Demo, r: list[Member]) -> None:
    """已办结 awaiting 回访; rated 5; rated 2 and reopened as a priority."""
    n = d.now
    fresh = await d.file(r[13], "市容环境", "驿站旁边有人乱贴小广告", n - DAY, "HT01", 2)
    await d.ack(fresh, n - DAY + HOUR)
    await d.resolve(fresh, n - 20 * MINUTE, "已清理小广告并张贴提示")
    good = await d.file(r[14], "公共设施", "驿站饮水机不出热水", n - 20 * DAY, "XTH1")
    await d.ack(good, n - 20 * DAY + HOUR)
    await d.resolve(good, n - 18 * DAY, "已更换加热模块")
    await d.rated(good, r[14], 5)
    bad = await d.file(r[15], "道路交通", "嘉泽镇路口红绿灯时间太短", n - 9 * DAY, "XTH2")
    await d.ack(bad, n - 9 * DAY + HOUR)
    await d.resolve(bad, n - 3 * DAY, "已反映给交警部门")
    assert bad.resolved_at is not None
    await W.follow_up(d.s, bad, d.p.follow_up_at(bad.resolved_at) + 5 * MINUTE, d.p)
    await W.rate(d.s, bad, r[15], 2, n - 2 * HOUR, d.p)


async def seed(session: AsyncSession, settings: Settings, now: datetime) -> int:
    """The demo reports, made once; how many demo reports there are."""
    riders = await demo_members(session)
    mine = select(func.count()).select_from(Report).join(
        Member, col(Member.id) == Report.member_id).where(
        col(Member.openid).in_([m.openid for m in riders]))
    if (have := (await session.exec(mine)).one()) or len(riders) < 16:
        return int(have)
    users = {u.username: u for u in (await session.exec(select(ConsoleUser).where(
        col(ConsoleUser.username).in_([DEMO_ADMIN, DEMO_OFFICER])))).all()}
    stations = {s.code: s for s in (await session.exec(select(Station))).all()}
    d = Demo(session, order_policy(settings), now, stations, users[DEMO_ADMIN],
             users[DEMO_OFFICER])
    await _history(d, riders)
    await _queue(d, riders)
    await _working(d, riders)
    await _late(d, riders)
    await _done(d, riders)
    await session.flush()
    return int((await session.exec(mine)).one())
