"""The channel policy: how a push may reach one recipient now. Pure — no database, no I/O.

WeChat's rules (the sandbox in bot/dev/sandbox/ models them on WeChat's side, on purpose
with numbers of its own), in the order they are tried:

- 客服 text within 48 h of the user's last message, at most 5 of them ("window");
- 客服 text within 1 minute of a menu click, QR scan or follow, at most 3 ("event");
- otherwise a 订阅通知 (subscribe message): the kind's subscribe template from config
  (`wechat.subscribe`), when the member holds a grant for it (models/subscribe.py) — a
  one-time grant is spent by the send, a long-term one stays;
- otherwise a template message: the kind's template from config (`wechat.templates`, a
  mapping with its id: bot/wechat/templates.py), unless the member blocked this account's
  templates (a receipt said so: models/receipts.py);
- otherwise undeliverable, with the reason.

Both kinds of template need the push's values (`has_values`) to fill their fields.

The event allowance is spent first: it is the scarcer one and it resets with every click.
A member's window fields (models/member.py) are written where messages come in
(bot/wechat/pipeline.py); the rule's numbers live here only.

When WeChat refuses a 客服 message because, on its side, the window is shut or spent
(45015, 45047), our view of the window was off: the push falls back to its template once.
When WeChat answers a 订阅通知 with 43101, the member holds no grant on its side: the grant
is dropped and the push falls back to its template once (or is undeliverable).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal, Protocol

Channel = Literal["kefu", "subscribe", "template"]
Allowance = Literal["event", "window"]

KEFU_WINDOW = timedelta(hours=48)
KEFU_WINDOW_MESSAGES = 5
KEFU_EVENT_WINDOW = timedelta(minutes=1)
KEFU_EVENT_MESSAGES = 3

# WeChat's answers to a 客服 message that mean "the window is closed" on its side.
WINDOW_CLOSED_ERRCODES = frozenset({45015, 45047})  # out of time / out of messages
# WeChat's answer to a 订阅通知 the member has not (or no longer) allowed.
NO_GRANT_ERRCODE = 43101

REASON_UNFOLLOWED = "用户已取消关注"
REASON_UNKNOWN_MEMBER = "不是本服务号的用户"
REASON_NO_CHANNEL = "不在48小时客服窗口内，无订阅通知授权，且未配置该类消息模板"
REASON_TEMPLATE_BLOCKED = "不在48小时客服窗口内，无订阅通知授权，且用户已拒收模板消息"
REASON_NO_GRANT = "用户未授权该订阅通知，且无模板消息可用"


class Template(Protocol):
    """What the policy reads of a kind's configured template: its id."""

    @property
    def id(self) -> str: ...


class WindowView(Protocol):
    """What the policy reads of a member (models.member.Member has it); `spend` writes
    the two counts."""

    followed: bool
    last_inbound_at: datetime | None
    kefu_used: int
    last_event_at: datetime | None
    kefu_used_event: int
    template_blocked_at: datetime | None


class GrantView(Protocol):
    """A member's grant for one 订阅通知 template (models.subscribe.Grant has it)."""

    @property
    def one_time(self) -> int: ...

    @property
    def long_term(self) -> bool: ...


@dataclass(frozen=True, slots=True)
class Choice:
    """The channel for one push: 客服 with the allowance it spends, a 订阅通知 with the
    template whose grant it uses (`grant`; `spends_grant`: a one-time grant), a template,
    or none (undeliverable, with the reason)."""

    channel: Channel | None
    allowance: Allowance | None = None
    reason: str | None = None
    grant: str | None = None
    spends_grant: bool = False


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


def template_for(kind: str, has_values: bool, templates: Mapping[str, Template],
                 member: WindowView | None = None) -> str | None:
    """The template id a push of `kind` may go out with: the kind is configured, the push
    has values to fill it with, and the member (when given) has not blocked templates."""
    template = templates.get(kind)
    if template is None or not template.id or not has_values:
        return None
    if member is not None and member.template_blocked_at is not None:
        return None
    return template.id


def subscribe_for(kind: str, has_values: bool, subscriptions: Mapping[str, Template],
                  grants: Mapping[str, GrantView]) -> tuple[str, bool] | None:
    """The 订阅通知 template a push of `kind` may go out with, and whether it spends a
    one-time grant: the kind is configured and the member holds a usable grant for it."""
    template = subscriptions.get(kind)
    if template is None or not template.id or not has_values:
        return None
    grant = grants.get(template.id)
    if grant is None or not (grant.long_term or grant.one_time > 0):
        return None
    return template.id, not grant.long_term


def choose(member: WindowView | None, kind: str, has_values: bool,
           templates: Mapping[str, Template], now: datetime,
           subscriptions: Mapping[str, Template] | None = None,
           grants: Mapping[str, GrantView] | None = None) -> Choice:
    """The channel for a push of `kind` to `member` (None: not one of ours), whose grants
    by 订阅通知 template id are `grants`. Spends nothing: the caller spends
    `choice.allowance` or the grant when it takes the choice."""
    if member is None:
        return Choice(None, reason=REASON_UNKNOWN_MEMBER)
    if not member.followed:
        return Choice(None, reason=REASON_UNFOLLOWED)
    allowance = kefu_allowance(member, now)
    if allowance is not None:
        return Choice("kefu", allowance)
    if sub := subscribe_for(kind, has_values, subscriptions or {}, grants or {}):
        return Choice("subscribe", grant=sub[0], spends_grant=sub[1])
    if template_for(kind, has_values, templates, member):
        return Choice("template")
    if member.template_blocked_at is not None and template_for(kind, has_values, templates):
        return Choice(None, reason=REASON_TEMPLATE_BLOCKED)
    return Choice(None, reason=REASON_NO_CHANNEL)


def template_fallback(errcode: int, kind: str, has_values: bool,
                      templates: Mapping[str, Template], member: WindowView | None = None
                      ) -> str | None:
    """After WeChat refused a 客服 message or a 订阅通知 with `errcode`: the template id to
    send instead (once), or None when the refusal stands."""
    if errcode not in WINDOW_CLOSED_ERRCODES and errcode != NO_GRANT_ERRCODE:
        return None
    return template_for(kind, has_values, templates, member)
