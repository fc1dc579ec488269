"""帮助, 取消, and the reply to anything nothing else understood."""

from __future__ import annotations

from bot import texts as T
from bot.dialogs import ANY_STATE, DialogContext
from bot.router import Router, join
from bot.wechat.message import Inbound

router = Router("common", help=[T.HELP_HELP])  # 取消 is in the footer

MAX_ECHO = 20


@router.words("取消", "退出", state=ANY_STATE)
async def cancel(dialog: DialogContext) -> str:
    if dialog.state is None:
        return T.NOTHING_TO_CANCEL
    dialog.finish()
    return T.CANCELLED


@router.words("帮助", "?", "菜单", "help")
async def show_help(help_lines: list[str]) -> str:
    return join(T.HELP_HEADER, *help_lines, T.HELP_FOOTER)


@router.fallback()
async def not_understood(msg: Inbound, dialog: DialogContext) -> str | None:
    expired = T.DIALOG_EXPIRED if dialog.expired else None
    if msg.text:
        echo = msg.text if len(msg.text) <= MAX_ECHO else msg.text[:MAX_ECHO] + "…"
        return join(expired, T.UNKNOWN.format(text=echo))
    if msg.is_event:
        return None  # nothing to say to a bare event: WeChat gets "success"
    return join(expired, T.UNKNOWN_NON_TEXT)
