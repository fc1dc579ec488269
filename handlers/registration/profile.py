"""我的, 修改资料, 注销."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from bot import texts as T
from bot.clock import local
from bot.dialogs import DialogContext, State, StatesGroup
from bot.router import Router, join, text_input
from bot.wechat.message import Inbound
from models import course as courses
from models import course_attendance as attendance
from models import course_enrolment as enrolment
from models import erasure
from models import group as groups
from models import member as members
from models import report as reports
from models.member import EDITABLE_FIELDS, Member
from models.profile import PARSERS, InvalidAnswer, mask_mobile, parse_choice

log = logging.getLogger(__name__)

router = Router("profile", help=[T.HELP_PROFILE, T.HELP_EDIT, T.HELP_ERASE])


class EditProfile(StatesGroup):
    field = State(T.EDIT_ASK_FIELD)
    value = State(T.EDIT_ASK_VALUE_ANY)


class Erase(StatesGroup):
    confirm = State(T.ERASE_CONFIRM)


def _shown(field: str, value: str | None) -> str:
    return mask_mobile(value) if field == "mobile" else (value or "")


@router.words("我的", "个人中心", needs_profile=True)
async def my_profile(member: Member, session: AsyncSession, now: datetime) -> str:
    assert member.registered_at is not None
    group = await groups.current(session, member)
    mine = [m for m in await enrolment.of_member(session, member, now) if m.status == "enrolled"]
    hours = courses.hours_text(await attendance.study_hours(session, member))
    assert member.id is not None
    open_reports = [f"{r.ticket} {r.status}" for r, backed
                    in await reports.of_member(session, member.id) if r.is_open and not backed]
    extra = [T.PROFILE_GROUP.format(name=group.name) if group else None,
             T.PROFILE_COURSES.format(hours=hours, n=len(mine)),
             T.PROFILE_NEXT_COURSE.format(what=courses.describe(mine[0].course))
             if mine else None,
             T.PROFILE_REPORTS.format(reports="；".join(open_reports[:5]))
             if open_reports else None]
    return join(T.PROFILE.format(
        name=member.name,
        mobile=mask_mobile(member.mobile),
        industry=member.industry,
        platform=member.platform,
        party_status=member.party_status,
        points=member.points,
        registered=local(member.registered_at).strftime("%Y-%m-%d"),
    ), *extra)


@router.words("修改资料", needs_profile=True)
async def edit_start(dialog: DialogContext) -> str:
    dialog.start(EditProfile.field)
    return EditProfile.field.prompt


@router.state(EditProfile.field, text_input())
async def edit_pick(msg: Inbound, dialog: DialogContext) -> str:
    try:
        label = parse_choice(msg.text, list(T.FIELD_NAMES.values()))
    except InvalidAnswer as wrong:
        return join(T.INVALID[wrong.reason], T.EDIT_ASK_FIELD)
    field = EDITABLE_FIELDS[list(T.FIELD_NAMES.values()).index(label)]
    dialog.go(EditProfile.value, field=field)
    return T.EDIT_ASK_VALUE[field]


@router.state(EditProfile.value, text_input())
async def edit_value(
    msg: Inbound, dialog: DialogContext, member: Member, session: AsyncSession
) -> str:
    field = dialog.data["field"]
    try:
        value = PARSERS[field](msg.text)
    except InvalidAnswer as wrong:
        return join(T.INVALID[wrong.reason], T.EDIT_ASK_VALUE[field])
    await members.update_field(session, member, field, value)
    dialog.finish()
    return T.EDIT_DONE.format(field=T.FIELD_NAMES[field], value=_shown(field, value))


@router.words("注销")
async def erase_start(member: Member, dialog: DialogContext) -> str:
    if not member.registered:
        return T.ERASE_NOTHING
    dialog.start(Erase.confirm)
    return T.ERASE_CONFIRM


@router.state(Erase.confirm, text_input())
async def erase_confirm(
    msg: Inbound, dialog: DialogContext, member: Member, session: AsyncSession, now: datetime
) -> str:
    if msg.text not in T.ERASE_WORDS:
        return T.ERASE_ASK_AGAIN
    await enrolment.release(session, member, now, T.COURSE_PROMOTED)
    # The photo files go after this commits: the reports' photo loop deletes them.
    done = await erasure.erase(session, member, now, name_mask=T.ERASED_NAME,
                               gone_text=T.ERASED_TEXT)
    log.info("注销 of member %s: %d reports, %d photos to delete, %d pushes and %d stored "
             "replies redacted", member.id, done.reports, done.photos, done.pushes,
             done.replies)
    dialog.finish()
    return T.ERASE_DONE
