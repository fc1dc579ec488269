"""Pushing: channel choice, WeChat's limits, errors, notices — the worker sends to the sandbox
over HTTP; chats go through the signed callback."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import select

from bot import texts as T
from bot.app import SERVICES
from bot.push import channels
from bot.push.worker import OutboxWorker
from bot.settings import MenuSettings, Settings
from bot.wechat.menu import MenuError, validate
from models import notice as notices
from models.member import Member
from models.member_import import import_members
from models.outbox import Push
from tests.conftest import Bot, BotFactory

API = {"Authorization": "Bearer xiaoge-demo-api-token"}


def worker_of(bot: Bot) -> OutboxWorker:
    worker = bot.client.server.app[SERVICES].worker
    assert worker is not None
    return worker


@pytest.fixture
async def quiet_bot(make_bot: BotFactory) -> Bot:
    """A bot whose worker the test drives itself."""
    return await make_bot(background=False)


async def registered(bot: Bot, openid: str, name: str = "张三") -> None:
    await bot.phone(openid).register(name=name)


async def notify(bot: Bot, audience: str, title: str = "通知", body: str = "明天九点学习",
                 **extra: Any) -> dict[str, Any]:
    resp = await bot.client.post("/api/v1/notices", headers=API,
                                 json={"title": title, "body": body, "audience": audience,
                                       **extra})
    data = await resp.json()
    assert resp.status == 201, data
    return data


async def send_all(bot: Bot, notice: dict[str, Any]) -> dict[str, Any]:
    subject = f"notice:{notice['id']}"
    assert await worker_of(bot).drain(subject, timeout_s=20)
    resp = await bot.client.get(f"/api/v1/notices/{notice['id']}", headers=API)
    return (await resp.json())["counts"]


async def rows(sessions, openid: str | None = None) -> list[Push]:
    async with sessions() as s:
        q = select(Push).order_by(Push.id)
        if openid:
            q = q.where(Push.openid == openid)
        return list((await s.exec(q)).all())


# --- channel choice ----------------------------------------------------------------------


async def test_kefu_inside_the_window_template_outside(quiet_bot: Bot) -> None:
    bot = quiet_bot
    await registered(bot, "o-a")
    counts = await send_all(bot, await notify(bot, "member:o-a", body="第一条"))
    assert counts["sent"] == {"kefu": 1}
    [m] = bot.sandbox.delivered("o-a")
    assert m["channel"] == "kefu" and m["content"] == "【通知】通知\n第一条"

    bot.clock.advance(hours=48, seconds=1)  # the window has closed
    counts = await send_all(bot, await notify(bot, "member:o-a", body="第二条"))
    assert counts["sent"] == {"template": 1}
    last = bot.sandbox.delivered("o-a")[-1]
    assert last["template_id"] == "demo-tmpl-notice"
    assert last["data"]["thing2"] == {"value": "第二条"}


async def test_five_kefu_messages_per_window_then_templates(quiet_bot: Bot) -> None:
    bot = quiet_bot
    await registered(bot, "o-five")
    bot.clock.advance(minutes=2)  # past the registration's own one-minute event allowance
    channels = []
    for i in range(7):
        counts = await send_all(bot, await notify(bot, "member:o-five", body=f"第{i}条"))
        channels += list(counts["sent"])
    assert channels == ["kefu"] * 5 + ["template"] * 2
    # Our count matched WeChat's: no 客服 call was wasted on a refusal.
    assert bot.sandbox.state.calls["/cgi-bin/message/custom/send"] == 5
    # Writing again opens a fresh window with a fresh allowance.
    await bot.phone("o-five").say("帮助")
    counts = await send_all(bot, await notify(bot, "member:o-five", body="又一条"))
    assert counts["sent"] == {"kefu": 1}


async def test_a_menu_click_allows_three_in_a_minute(quiet_bot: Bot, sessions) -> None:
    bot = quiet_bot
    await registered(bot, "o-click")
    async with sessions() as s, s.begin():  # no message for three days: the window is shut
        m = (await s.exec(select(Member).where(Member.openid == "o-click"))).one()
        m.last_inbound_at = bot.clock.now() - timedelta(days=3)
        s.add(m)
    bot.sandbox.state.user("o-click").last_message_at = None
    await bot.phone("o-click").event("CLICK", "我的")
    channels = []
    for i in range(4):
        counts = await send_all(bot, await notify(bot, "member:o-click", body=f"{i}"))
        channels += list(counts["sent"])
    assert channels == ["kefu"] * 3 + ["template"]
    assert bot.sandbox.state.calls["/cgi-bin/message/custom/send"] == 3
    bot.clock.advance(seconds=61)
    counts = await send_all(bot, await notify(bot, "member:o-click", body="晚了"))
    assert counts["sent"] == {"template": 1}


async def test_unfollowed_members_get_nothing(quiet_bot: Bot) -> None:
    bot = quiet_bot
    await registered(bot, "o-gone")
    await registered(bot, "o-here", name="李四")
    bot.clock.advance(seconds=1)
    await bot.phone("o-gone").event("unsubscribe")
    counts = await send_all(bot, await notify(bot, "all"))
    assert counts["sent"] == {"kefu": 1}
    assert counts["undeliverable"] == {channels.REASON_UNFOLLOWED: 1}
    assert bot.sandbox.delivered("o-gone") == []


async def test_no_template_for_the_kind_means_undeliverable_outside_the_window(
    make_bot: BotFactory, settings: Settings
) -> None:
    no_templates = settings.model_copy(
        update={"wechat": settings.wechat.model_copy(update={"templates": {}})})
    bot = await make_bot(no_templates, background=False)
    await registered(bot, "o-old")
    bot.clock.advance(days=3)
    counts = await send_all(bot, await notify(bot, "member:o-old"))
    assert counts["undeliverable"] == {channels.REASON_NO_CHANNEL: 1}
    assert bot.sandbox.delivered("o-old") == []


async def test_wrong_view_of_the_window_falls_back_to_the_template(quiet_bot: Bot) -> None:
    bot = quiet_bot
    await registered(bot, "o-drift")
    bot.sandbox.state.user("o-drift").last_message_at = None  # WeChat says: window closed
    bot.sandbox.state.user("o-drift").last_event_at = None
    counts = await send_all(bot, await notify(bot, "member:o-drift"))
    assert counts["sent"] == {"template": 1}
    assert bot.sandbox.state.calls["/cgi-bin/message/custom/send"] == 1  # refused, then template


# --- errors ------------------------------------------------------------------------------


def fault(bot: Bot, **kw: Any) -> None:
    from bot.dev.sandbox import Faults

    bot.sandbox.state.faults.append(Faults(**kw))


async def test_unfollowed_answer_is_permanent_and_marks_the_member(quiet_bot: Bot,
                                                                   sessions) -> None:
    bot = quiet_bot
    await registered(bot, "o-43004")
    fault(bot, errcode=43004, times=1)
    counts = await send_all(bot, await notify(bot, "member:o-43004"))
    assert counts["undeliverable"] == {"用户未关注": 1}
    [row] = await rows(sessions, "o-43004")
    assert row.attempts == 1 and row.errcode == 43004
    async with sessions() as s:
        m = (await s.exec(select(Member).where(Member.openid == "o-43004"))).one()
    assert not m.followed


@pytest.mark.parametrize(("errcode", "reason"), [(40003, "openid无效"),
                                                 (45047, "客服消息条数已用完")])
async def test_permanent_errors_are_not_retried(quiet_bot: Bot, sessions, errcode: int,
                                                reason: str) -> None:
    bot = quiet_bot
    await registered(bot, "o-perm")
    bot.clock.advance(days=3)  # outside the window: the template path, no kefu fallback
    fault(bot, errcode=errcode, times=1)
    counts = await send_all(bot, await notify(bot, "member:o-perm"))
    assert counts["failed"] == {reason: 1}
    [row] = await rows(sessions, "o-perm")
    assert row.attempts == 1
    assert bot.sandbox.delivered("o-perm") == []


@pytest.mark.parametrize("kind", [{"errcode": -1}, {"http_status": 502}, {"drop": True}])
async def test_transient_errors_are_retried_with_backoff(quiet_bot: Bot, sessions,
                                                         kind: dict[str, Any]) -> None:
    bot = quiet_bot
    await registered(bot, "o-flaky")
    fault(bot, times=2, **kind)
    notice = await notify(bot, "member:o-flaky")
    worker = worker_of(bot)
    for _ in range(3):
        await worker.run_once()
        [row] = await rows(sessions, "o-flaky")
        if row.status == "sent":
            break
        assert row.status == "pending" and row.next_attempt_at > bot.clock.now() - \
            timedelta(seconds=1)
        bot.clock.advance(minutes=10)  # past any backoff
    assert row.status == "sent" and row.attempts == 3
    assert len(bot.sandbox.delivered("o-flaky")) == 1
    counts = await send_all(bot, notice)
    assert counts["sent"] == {"kefu": 1}


async def test_giving_up_after_max_attempts(make_bot: BotFactory, settings: Settings,
                                            sessions) -> None:
    few = settings.model_copy(update={"push": settings.push.model_copy(
        update={"max_attempts": 2})})
    bot = await make_bot(few, background=False)
    await registered(bot, "o-down")
    fault(bot, http_status=503)  # every time
    await notify(bot, "member:o-down")
    worker = worker_of(bot)
    for _ in range(3):
        await worker.run_once()
        bot.clock.advance(minutes=20)
    [row] = await rows(sessions, "o-down")
    assert (row.status, row.attempts, row.errcode) == ("failed", 2, -2)


async def test_quota_pauses_the_worker(quiet_bot: Bot, sessions) -> None:
    bot = quiet_bot
    await registered(bot, "o-quota")
    fault(bot, errcode=45009, times=1)
    await notify(bot, "member:o-quota")
    worker = worker_of(bot)
    await worker.run_once()
    [row] = await rows(sessions, "o-quota")
    assert row.status == "pending" and row.errcode == 45009
    assert row.attempts == 0  # the account's quota says nothing of this push: no attempt spent
    assert await worker.run_once() == 0  # paused: nothing taken, no loop against the quota


async def test_a_long_quota_stop_never_uses_up_the_attempts(make_bot: BotFactory,
                                                              settings: Settings,
                                                              sessions) -> None:
    few = settings.model_copy(update={"push": settings.push.model_copy(
        update={"max_attempts": 2})})
    bot = await make_bot(few, background=False)
    await registered(bot, "o-daily")
    fault(bot, http_status=503, times=1)  # one attempt spent on WeChat being down …
    fault(bot, errcode=45009, times=5)  # … then five pauses in a row, more than max_attempts
    await notify(bot, "member:o-daily")
    worker = worker_of(bot)
    for _ in range(9):
        worker._paused_until = 0.0  # the pause is over (its length is tested elsewhere)
        bot.clock.advance(minutes=20)
        await worker.run_once()
    [row] = await rows(sessions, "o-daily")
    assert (row.status, row.attempts) == ("sent", 2)
    assert len(bot.sandbox.delivered("o-daily")) == 1


async def test_a_worker_slower_than_its_lease_sends_nothing_another_took(
    quiet_bot: Bot, settings: Settings, sessions
) -> None:
    bot = quiet_bot
    for i in range(3):
        await registered(bot, f"o-lease{i}")
    await notify(bot, "all")
    slow = worker_of(bot)
    to_send, done = await slow._claim(None)  # taken, then the worker stalls
    assert len(to_send) == 3
    bot.clock.advance(seconds=settings.push.lease_s + 1)
    other = OutboxWorker(slow._sessions, slow._api, slow._settings, slow._templates,
                         slow._clock)
    assert await other.run_once() == 3  # the lease is over: another worker sends them
    await slow._send_batch(to_send, done)  # the slow one wakes up: it must send nothing
    for i in range(3):
        assert len(bot.sandbox.delivered(f"o-lease{i}")) == 1
    assert {(r.status, r.attempts) for r in await rows(sessions)} == {("sent", 1)}


async def test_expired_token_is_refreshed_once_and_the_push_still_goes(quiet_bot: Bot) -> None:
    bot = quiet_bot
    await registered(bot, "o-token")
    await send_all(bot, await notify(bot, "member:o-token", body="一"))
    fetches = bot.sandbox.state.token_fetches
    past = bot.clock.now() - timedelta(seconds=1)
    bot.sandbox.state.tokens = dict.fromkeys(bot.sandbox.state.tokens, past)
    counts = await send_all(bot, await notify(bot, "member:o-token", body="二"))
    assert counts["sent"] == {"kefu": 1}
    assert bot.sandbox.state.token_fetches == fetches + 1


# --- notices -----------------------------------------------------------------------------


async def test_notice_api_refuses_bad_requests(quiet_bot: Bot, sessions) -> None:
    bot = quiet_bot
    await registered(bot, "o-api")
    resp = await bot.client.post("/api/v1/notices", json={"title": "t", "body": "b",
                                                          "audience": "all"})
    assert resp.status == 401
    bad = [
        ({"title": "t", "body": "b", "audience": "industry:开飞机"}, "没有这个行业"),
        ({"title": "t", "body": "b", "audience": "member:ghost"}, "不存在或未登记"),
        ({"title": "t", "body": "b", "audience": "industry:网约车"}, "没有任何已登记的用户"),
        ({"title": "t", "body": "很" * 700, "audience": "all"}, "正文过长"),
        ({"title": "", "body": "b", "audience": "all"}, "标题不能为空"),
        ({"title": "t", "body": "b", "audience": "everyone"}, "受众须为"),
        ({"title": "t", "body": "b", "audience": "all", "at": "tomorrow"}, "ISO 8601"),
        ({"title": "t", "audience": "all"}, "body is required"),
    ]
    for payload, words in bad:
        resp = await bot.client.post("/api/v1/notices", headers=API, json=payload)
        assert resp.status == 400, payload
        assert words in (await resp.json())["error"], payload
    resp = await bot.client.post("/api/v1/notices", headers=API, data=b"{not json")
    assert resp.status == 400
    async with bot.client.get("/api/v1/notices/999", headers=API) as resp:
        assert resp.status == 404
    assert await rows(sessions) == []  # nothing half-made


async def test_a_scheduled_notice_goes_out_when_due(quiet_bot: Bot) -> None:
    bot = quiet_bot
    await registered(bot, "o-later")
    at = (bot.clock.now() + timedelta(hours=2)).isoformat()
    notice = await notify(bot, "all", at=at)
    assert notice["status"] == "scheduled" and notice["counts"]["total"] == 0
    worker = worker_of(bot)
    assert await worker.run_once() == 0
    bot.clock.advance(hours=2)
    counts = await send_all(bot, notice)
    assert counts["total"] == 1 and sum(counts["sent"].values()) == 1


async def test_a_notice_is_pushed_once_per_recipient(quiet_bot: Bot, sessions) -> None:
    bot = quiet_bot
    for i, name in enumerate(["甲一", "乙二", "丙三"]):
        await registered(bot, f"o-{i}", name=name)
    notice = await notify(bot, "all")
    async with sessions() as s, s.begin():  # expanding again (a retried job) adds nothing
        n = await notices.get(s, notice["id"])
        assert n is not None
        await notices.expand(s, n, bot.clock.now())
    counts = await send_all(bot, notice)
    assert counts["total"] == 3
    for i in range(3):
        assert len(bot.sandbox.delivered(f"o-{i}")) == 1


# --- imports and the menu ----------------------------------------------------------------


async def test_import_members_all_or_nothing(sessions, clock) -> None:
    good = [(2, {"openid": "m1", "name": "王小明", "mobile": "13800000001", "industry": "2",
                 "platform": "美团", "party_status": "1"}),
            (3, {"openid": "m2", "name": "李小红", "mobile": "13800000002",
                 "industry": "外卖送餐", "platform": "饿了么", "party_status": "预备党员"})]
    bad = [*good, (4, {"openid": "m1", "name": "赵六", "mobile": "13800000003",
                       "industry": "1", "platform": "x", "party_status": "1"}),
           (5, {"openid": "m3", "name": "钱七", "mobile": "123", "industry": "1",
                "platform": "x", "party_status": "1"})]
    async with sessions() as s, s.begin():
        report = await import_members(s, bad, clock.now(), T.INVALID)
    assert report.rejected == [(4, "openid 与第2行重复"), (5, "mobile: 手机号应为11位数字（123）")]
    async with sessions() as s:
        assert (await s.exec(select(Member))).all() == []
    async with sessions() as s, s.begin():
        report = await import_members(s, good, clock.now(), T.INVALID)
    assert (report.added, report.changed) == (2, 0)
    changed = [(2, {**good[0][1], "platform": "美团优选"})]
    async with sessions() as s, s.begin():
        report = await import_members(s, changed + good[1:], clock.now(), T.INVALID)
    assert (report.added, report.changed, report.unchanged) == (0, 1, 1)
    async with sessions() as s:
        m = (await s.exec(select(Member).where(Member.openid == "m1"))).one()
    assert m.registered and m.consent_source == "offline" and m.platform == "美团优选"


def test_the_shipped_menu_is_valid(settings: Settings) -> None:
    menu = validate(settings.menu)
    assert [b["name"] for b in menu["button"]] == ["驿站", "党建", "随手拍"]
    assert menu["button"][0]["sub_button"][0] == {"type": "scancode_waitmsg", "name": "扫码签到",
                                                 "key": "扫码签到"}


@pytest.mark.parametrize(
    ("menu", "words"),
    [
        ({"button": [{"name": f"按钮{i}", "type": "click", "key": "k"} for i in range(4)]},
         "一级菜单须为1到3个"),
        ({"button": [{"name": "这个名字太长了", "type": "click", "key": "k"}]}, "超过4个汉字"),
        ({"button": [{"name": "菜单", "sub_button": [
            {"name": f"子{i}", "type": "click", "key": "k"} for i in range(6)]}]},
         "二级菜单最多5个"),
        ({"button": [{"name": "菜单", "type": "click"}]}, "需要 key"),
        ({"button": [{"name": "菜单", "type": "view", "url": "ftp://x"}]}, "http(s) 链接"),
        ({"button": [{"name": "菜单", "type": "click", "key": "键" * 50}]}, "最长128字节"),
        ({"button": [{"name": "菜单", "type": "teleport", "key": "k"}]}, "不支持的类型"),
    ],
)
def test_menu_rules(menu: dict[str, Any], words: str) -> None:
    with pytest.raises(MenuError, match=words.replace("(", r"\(").replace(")", r"\)")):
        validate(MenuSettings.model_validate(menu))
