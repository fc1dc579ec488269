"""云上党小组: join by code or QR, 我的小组, 退出小组, and the leader's 小组通知 / 通知情况."""

from __future__ import annotations

from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from bot import texts as T
from bot.clock import SHANGHAI
from bot.dialogs import DialogContext, State, StatesGroup
from bot.router import Router, join, text_input, words
from bot.wechat.message import Inbound
from models import activity as activities
from models import arrival, push_counts
from models import group as groups
from models import notice as notices
from models.activity import Activity
from models.group import Joined, PartyGroup
from models.member import Member
from models.staff import ConsoleUser
from models.views import groups as views

router = Router("groups", help=[T.HELP_GROUPS, T.HELP_ACTIVITY])
leaders = Router("leaders", help=[T.HELP_LEADER], help_roles={"leader"})

CODE = r"(?P<code>[A-Za-z0-9]{1,16})"


class GroupMove(StatesGroup):
    confirm = State(T.GROUP_MOVE_ASK)


class GroupLeave(StatesGroup):
    confirm = State(T.GROUP_LEAVE_ASK)


async def _leader_name(session: AsyncSession, group: PartyGroup) -> str:
    """The leader's display name (as registered on their bound WeChat), never the login."""
    if not group.leader_id:
        return T.GROUP_NO_LEADER
    return await views.leader_display_name(session, group) or T.GROUP_LEADER_UNNAMED


async def _join(session: AsyncSession, member: Member, dialog: DialogContext, code: str,
                now: datetime) -> str:
    group = await groups.by_code(session, code)
    if group is None:
        return T.GROUP_UNKNOWN.format(code=code.upper()[:16])
    here = await groups.current(session, member)
    if here is not None and here.id != group.id:
        dialog.start(GroupMove.confirm, code=group.code)
        return T.GROUP_MOVE.format(here=here.name, there=group.name)
    if await groups.join(session, member, group, now) is Joined.ALREADY:
        return T.GROUP_ALREADY.format(name=group.name)
    return T.GROUP_JOINED.format(name=group.name, industry=group.industry,
                                 leader=await _leader_name(session, group),
                                 count=await groups.member_count(session, group))


@router.regex(rf"加入小组\s*{CODE}", needs_profile=True)
async def join_by_code(code: str, member: Member, dialog: DialogContext,
                       session: AsyncSession, now: datetime) -> str:
    return await _join(session, member, dialog, code, now)


@router.scene("grp:", needs_profile=True)
async def join_by_qr(scene_arg: str, member: Member, dialog: DialogContext,
                     session: AsyncSession, now: datetime) -> str:
    return await _join(session, member, dialog, scene_arg, now)


@router.words("加入小组", "加入党小组")
async def join_usage() -> str:
    return T.GROUP_USAGE


@router.state(GroupMove.confirm, words("确认", "是", "转入"))
async def move_confirmed(dialog: DialogContext, member: Member, session: AsyncSession,
                         now: datetime) -> str:
    code = dialog.data["code"]
    dialog.finish()
    group = await groups.by_code(session, code)
    if group is None:  # the code was changed meanwhile
        return T.GROUP_UNKNOWN.format(code=code)
    here = await groups.current(session, member)
    await groups.join(session, member, group, now)
    return T.GROUP_MOVED.format(here=here.name if here else "—", name=group.name,
                                count=await groups.member_count(session, group))


@router.words("我的小组", "小组", needs_profile=True)
async def my_group(member: Member, session: AsyncSession, now: datetime) -> str:
    group = await groups.current(session, member)
    if group is None:
        return T.GROUP_NONE
    head = T.GROUP_MINE.format(name=group.name, industry=group.industry,
                               leader=await _leader_name(session, group),
                               count=await groups.member_count(session, group))
    if (upcoming := await activities.of_member(session, member, now)) is not None:
        head = join(head, T.ACTIVITY_NEXT.format(what=activities.describe(upcoming)))
    recent = await views.sent_notices(session, group)
    if not recent:
        return join(head, T.GROUP_NO_NOTICES)
    lines = [T.GROUP_NOTICE_LINE.format(when=n.send_at.astimezone(SHANGHAI).strftime("%m-%d"),
                                        title=n.title, body=n.body[:30]) for n in recent]
    return join(head, T.GROUP_NOTICES, *lines)


@router.words("退出小组", needs_profile=True)
async def leave_ask(member: Member, dialog: DialogContext, session: AsyncSession) -> str:
    group = await groups.current(session, member)
    if group is None:
        return T.GROUP_NONE
    dialog.start(GroupLeave.confirm)
    return T.GROUP_LEAVE_CONFIRM.format(name=group.name)


@router.state(GroupLeave.confirm, text_input())
async def leave_confirmed(msg: Inbound, dialog: DialogContext, member: Member,
                          session: AsyncSession, now: datetime) -> str:
    if msg.text not in T.GROUP_LEAVE_WORDS:
        return T.GROUP_LEAVE_ASK
    dialog.finish()
    left = await groups.leave(session, member, now)
    return T.GROUP_LEFT.format(name=left.name) if left else T.GROUP_NONE


# --- the leader ----------------------------------------------------------------------------


@leaders.regex(r"小组通知\s*(?P<body>.*)", roles={"leader"})
async def group_notice(body: str, staff: ConsoleUser, session: AsyncSession,
                       now: datetime) -> str:
    group = await groups.led_by(session, staff)
    if group is None:
        return T.LEADER_NO_GROUP
    if not body.strip():
        return T.GROUP_NOTICE_USAGE
    if not await groups.member_openids(session, group.code):
        return T.GROUP_NOTICE_EMPTY.format(name=group.name)
    try:
        notice = await notices.create(session, T.GROUP_NOTICE_TITLE, body, f"group:{group.code}",
                                      now, created_by=f"leader:{staff.username}")
    except notices.NoticeError as exc:
        return T.notice_error(exc.code, exc.details)
    return T.GROUP_NOTICE_SENT.format(name=group.name, n=notice.recipients, id=notice.id)


@leaders.words("通知情况", roles={"leader"})
async def notice_stats(staff: ConsoleUser, session: AsyncSession) -> str:
    group = await groups.led_by(session, staff)
    if group is None:
        return T.LEADER_NO_GROUP
    last = await views.last_notice(session, group)
    if last is None:
        return T.GROUP_NOTICE_NONE
    counts = await push_counts.counts(session, last.subject)
    failed = sum(counts["failed"].values()) + sum(counts["undeliverable"].values())
    return T.GROUP_NOTICE_STATS.format(
        id=last.id, total=counts["total"], sent=sum(counts["sent"].values()),
        kefu=counts["sent"].get("kefu", 0), template=counts["sent"].get("template", 0),
        pending=counts["pending"], failed=failed)


# --- activities: attendance and leave ------------------------------------------------------


def _activity_error(err: activities.ActivityError) -> str:
    return T.ACTIVITY_ERRORS.get(err.code, T.ERROR)


async def _no_activity(session: AsyncSession, member: Member) -> str:
    """Nothing to attend: join a group first, or there is none planned."""
    return T.ACTIVITY_NONE if await groups.current(session, member) else T.GROUP_NONE


async def _not_yet(session: AsyncSession, member: Member, activity: Activity) -> str:
    """Before the window: whether 请假 was recorded, or how to ask for it."""
    row = await views.my_attendance(session, activity, member)
    if row is not None and row.status == "leave":
        return T.ACTIVITY_ON_LEAVE.format(reason=row.reason)
    return T.ACTIVITY_LEAVE_HINT


async def _attend(session: AsyncSession, member: Member, activity: Activity | None,
                  method: str, now: datetime) -> str:
    if activity is None:
        return await _no_activity(session, member)
    done = await arrival.attend_activity(session, member, activity, method, now)
    more = await _not_yet(session, member, activity) if done.outcome == arrival.NOT_YET \
        else None
    return join(T.arrived(done), more)


@router.words("到", "已到", "到了", needs_profile=True)
async def present(member: Member, session: AsyncSession, now: datetime) -> str:
    return await _attend(session, member, await activities.of_member(session, member, now),
                         "word", now)


@router.regex(r"签到\s*(?P<code>[A-Za-z0-9-]{1,16})", needs_profile=True)
async def present_by_code(code: str, member: Member, session: AsyncSession,
                          now: datetime) -> str:
    """签到 CODE: a group activity's code, or else a course's (小哥党校)."""
    arrived = await arrival.by_code(session, member, code, now)
    if arrived is None:
        return T.ATTEND_UNKNOWN.format(code=code.upper())
    activity = await activities.by_code(session, code) if arrived.kind == "activity" \
        and arrived.outcome == arrival.NOT_YET else None
    return join(T.arrived(arrived),
                await _not_yet(session, member, activity) if activity else None)


@router.scene("act:", needs_profile=True)
async def present_by_qr(scene_arg: str, member: Member, session: AsyncSession,
                        now: datetime) -> str:
    plain = scene_arg.isascii() and scene_arg.isdigit() and len(scene_arg) <= 9
    activity = await session.get(Activity, int(scene_arg)) if plain else None
    if activity is None:
        return T.ACTIVITY_UNKNOWN.format(code=scene_arg[:16])
    return await _attend(session, member, activity, "qr", now)


@router.regex(r"请假\s*(?P<reason>.*)", needs_profile=True)
async def ask_leave(reason: str, member: Member, session: AsyncSession, now: datetime) -> str:
    if not reason.strip():
        return T.LEAVE_USAGE
    activity = await activities.of_member(session, member, now)
    if activity is None:
        return await _no_activity(session, member)
    try:
        await activities.ask_leave(session, activity, member, reason.strip(), now)
    except activities.ActivityError as err:
        return _activity_error(err)
    return T.ACTIVITY_LEAVE_OK.format(what=activities.describe(activity), reason=reason.strip())
