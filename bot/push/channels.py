"""The channel policy: how a push may reach one recipient now. Pure — no database, no I/O.

WeChat's rules (the sandbox in bot/dev/sandbox.py models them on
WeChat's side, on purpose with numbers of its own):

- 客服 text within 48 h of the user's last message, at most 5 of them ("window");
- 客服 text within 1 minute of a menu click, QR scan or follow, at most 3 ("event");
- otherwise a template message: the kind's template from config (`wechat.templates`),
  when the push carries template data;
- otherwise undeliverable, with the reason.

The event allowance is spent first: it is the scarcer one and it resets with every click.
A member's window fields (models/member.py) are written where messages come in
(bot/wechat/pipeline.py); the rule's numbers live here only.

When WeChat refuses a 客服 message because, on its side, the window is shut or spent
(45015, 45047), our view of the window was off: the push falls back to its template once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal, Protocol

Channel = Literal["kefu", "template"]
Allowance = Literal["event", "window"]

KEFU_WINDOW = timedelta(hours=48)
KEFU_WINDOW_MESSAGES = 5
KEFU_EVENT_WINDOW = timedelta(minutes=1)
KEFU_EVENT_MESSAGES = 3

# WeChat's answers to a 客服 message that mean "the window is closed" on its side.
WINDOW_CLOSED_ERRCODES = frozenset({45015, 45047})  # out of time / out of messages

REASON_UNFOLLOWED = "用户已取消关注"
REASON_UNKNOWN_MEMBER = "不是本服务号的用户"
REASON_NO_CHANNEL = "不在48小时客服窗口内，且未配置该类消息模板"


class WindowView(Protocol):
    """What the policy reads of a member (models.member.Member has it); `spend` writes
    the two counts."""

    followed: bool
    last_inbound_at: datetime | None
    kefu_used: int
    last_event_at: datetime | None
    kefu_used_event: int


@dataclass(frozen=True, slots=True)
class Choice:
    """The channel for one push: 客服 with the allowance it spends, a template, or none
    (undeliverable, with the reason)."""

    channel: Channel | None
    allowance: Allowance | None = None
    reason: str | None = None


def kefu_allowance(member: WindowView, now: datetime) -> Allowance | None:
    """Which 客服 allowance a message to this member may use now, if any."""
    if (member.last_event_at is not None and now - member.last_event_at < KEFU_EVENT_WINDOW
            and member.kefu_used_event < KEFU_EVENT_MESSAGES):
        return "event"
    if (member.last_inbound_at is not None and now - member.last_inbound_at < KEFU_WINDOW
            and member.kefu_used < KEFU_WINDOW_MESSAGES):
        return "window"
    return None


def spend(member: WindowView, allowance: Allowance) -> None:
    """Count one 客服 message against the allowance it used."""
    if allowance == "event":
        member.kefu_used_event += 1
    else:
        member.kefu_used += 1


def template_for(kind: str, has_template_data: bool, templates: Mapping[str, str]
                 ) -> str | None:
    """The template id a push of `kind` may go out with: configured and with data to fill."""
    template_id = templates.get(kind)
    return template_id if template_id and has_template_data else None


def choose(member: WindowView | None, kind: str, has_template_data: bool,
           templates: Mapping[str, str], now: datetime) -> Choice:
    """The channel for a push of `kind` to `member` (None: not one of ours). Spends
    nothing: the caller spends `choice.allowance` when it takes the choice."""
    if member is None:
        return Choice(None, reason=REASON_UNKNOWN_MEMBER)
    if not member.followed:
        return Choice(None, reason=REASON_UNFOLLOWED)
    allowance = kefu_allowance(member, now)
    if allowance is not None:
        return Choice("kefu", allowance)
    if template_for(kind, has_template_data, templates):
        return Choice("template")
    return Choice(None, reason=REASON_NO_CHANNEL)


def template_fallback(errcode: int, kind: str, has_template_data: bool,
                      templates: Mapping[str, str]) -> str | None:
    """After WeChat refused a 客服 message with `errcode`: the template id to send instead
    (once), or None when the refusal stands."""
    if errcode not in WINDOW_CLOSED_ERRCODES:
        return None
    return template_for(kind, has_template_data, templates)
