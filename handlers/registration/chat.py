"""注册: name → mobile → industry → platform → party status → consent.

Also the gate in front of every handler that needs a profile: it starts this
dialog and keeps the message that was stopped, to handle it once registered.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlmodel.ext.asyncio.session import AsyncSession

from bot import texts as T
from bot.dialogs import DialogContext, State, StatesGroup
from bot.router import Context, Redispatch, Router, join, text_input
from bot.wechat.message import Inbound
from models import member as members
from models.member import Member, Profile
from models.profile import (
    InvalidAnswer,
    parse_industry,
    parse_mobile,
    parse_name,
    parse_party_status,
    parse_platform,
)


class Registration(StatesGroup):
    name = State(T.ASK_NAME)
    mobile = State(T.ASK_MOBILE)
    industry = State(T.ASK_INDUSTRY)
    platform = State(T.ASK_PLATFORM)
    party_status = State(T.ASK_PARTY_STATUS)
    consent = State(T.ASK_CONSENT)


STEPS = [
    Registration.name,
    Registration.mobile,
    Registration.industry,
    Registration.platform,
    Registration.party_status,
    Registration.consent,
]

router = Router("registration", help=[T.HELP_REGISTER])


@router.words("注册", "登记")
async def start(member: Member, dialog: DialogContext) -> str:
    if member.registered:
        return T.REG_ALREADY
    dialog.start(Registration.name)
    return join(T.REG_INTRO, Registration.name.prompt)


async def require_profile(ctx: Context) -> str:
    """The profile gate: register first, then do what was asked."""
    pending = ctx.msg.to_dict()
    if ctx.dialog.is_in(*STEPS):
        ctx.dialog.update(resume=pending)
        return join(T.REG_NEEDED, ctx.dialog.prompt)
    ctx.dialog.start(Registration.name, resume=pending)
    return join(T.REG_NEEDED, Registration.name.prompt)


def _step(state: State, field: str, parse: Callable[[str], str], next_state: State) -> None:
    @router.state(state, text_input())
    async def answer(msg: Inbound, dialog: DialogContext) -> str:
        if msg.text in T.COMMAND_WORDS:
            return join(T.LOOKS_LIKE_COMMAND.format(text=msg.text), state.prompt)
        try:
            value = parse(msg.text)
        except InvalidAnswer as wrong:
            return join(T.INVALID[wrong.reason], state.prompt)
        dialog.go(next_state, **{field: value})
        return next_state.prompt

    answer.__qualname__ = f"answer_{field}"


_step(Registration.name, "name", parse_name, Registration.mobile)
_step(Registration.mobile, "mobile", parse_mobile, Registration.industry)
_step(Registration.industry, "industry", parse_industry, Registration.platform)
_step(Registration.platform, "platform", parse_platform, Registration.party_status)
_step(Registration.party_status, "party_status", parse_party_status, Registration.consent)


@router.state(Registration.consent, text_input())
async def consent(
    msg: Inbound, dialog: DialogContext, member: Member, session: AsyncSession, ctx: Context
) -> str | Redispatch:
    answer = msg.text.lower()
    if answer in T.CONSENT_NO:
        dialog.finish()
        return T.REG_DECLINED
    if answer not in T.CONSENT_YES:
        return T.ASK_CONSENT_AGAIN
    data = dialog.data
    profile = Profile(
        name=data["name"],
        mobile=data["mobile"],
        industry=data["industry"],
        platform=data["platform"],
        party_status=data["party_status"],
    )
    await members.register(session, member, profile, ctx.now)
    resume = data.get("resume")
    dialog.finish()
    done = T.REG_DONE.format(name=profile.name)
    if resume:
        return Redispatch(done, Inbound.from_dict(resume))
    return done
