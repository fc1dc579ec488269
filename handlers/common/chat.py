"""帮助, 取消, and the reply to anything nothing else understood."""

from __future__ import annotations

from bot import texts as T
from bot.dialogs import ANY_STATE, DialogContext, is_cancel
from bot.router import Context, Redispatch, Router, join
from bot.wechat.message import Inbound
from handlers.common.understand import MARK, understand

router = Router("common", help=[T.HELP_HELP])  # 取消 is in the footer

MAX_ECHO = 20


def _never_mind(ctx: Context) -> bool:
    return is_cancel(ctx.msg.text)


# Before any dialog step's handler (ANY_STATE handlers run first): 取消, 算了吧, 不要了。…
@router.on(_never_mind, state=ANY_STATE)
async def cancel(dialog: DialogContext) -> str:
    if dialog.state is None:
        return T.NOTHING_TO_CANCEL
    dialog.finish()
    return T.CANCELLED


@router.words("帮助", "?", "菜单", "help")
async def show_help(help_lines: list[str]) -> str:
    return join(T.HELP_HEADER, *help_lines, T.HELP_FOOTER)


@router.fallback()
async def not_understood(msg: Inbound, dialog: DialogContext, help_lines: list[str]
                         ) -> str | Redispatch | None:
    # Said once, even when the message is re-read below (understand.py marks it).
    expired = T.DIALOG_EXPIRED if dialog.expired and MARK not in msg.extra else None
    if msg.text:  # read as the rider means it: do it, ask once, or a short menu
        answer = understand(msg, dialog, help_lines)
        if isinstance(answer, Redispatch):
            return Redispatch(join(expired, answer.prefix), answer.msg)
        return join(expired, answer)
    if msg.is_event:
        return None  # nothing to say to a bare event: WeChat gets "success"
    return join(expired, T.UNKNOWN_NON_TEXT)
