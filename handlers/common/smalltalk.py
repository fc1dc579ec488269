"""Small talk and asking for a person: 你好, 谢谢, an emoji, 人工 — and a voice message
WeChat could not turn into words. Each gets a friendly line and the words to send next."""

from __future__ import annotations

import re

from bot import texts as T
from bot.dialogs import ANY_STATE, DialogContext
from bot.router import Context, Filter, Router, join
from bot.settings import Settings
from bot.wechat.pipeline import TRANSFER_TO_KF

router = Router("smalltalk")

GREETINGS = ("你好", "您好", "你好呀", "您好呀", "在吗", "在不在", "有人吗", "hi", "hello",
             "哈喽", "嗨", "早", "早上好", "中午好", "下午好", "晚上好", "你好小哥红驿")
THANKS = ("谢谢", "谢谢你", "谢谢您", "谢谢啦", "多谢", "感谢", "谢了", "辛苦了", "辛苦",
          "thanks", "thank you", "好的谢谢", "收到谢谢", "好的，谢谢", "ok谢谢")
A_PERSON = ("人工", "客服", "找人", "转人工", "人工客服", "人工服务", "找客服", "联系客服",
            "真人", "我要人工", "找工作人员")

# Emoji only: pictographs (with skin tones, joiners, variation selectors), WeChat's own
# faces sent as bracketed names ("[微笑]", "[强]") or as old codes ("/::)", "/:strong"; the
# leading "/" of a message is gone after normalisation), and plain emoticons.
# Atomic: a run of colons read one way is never re-read another (no runaway backtracking).
_EMOJI = re.compile(
    r"(?>[\U0001F000-\U0001FAFF\u2600-\u27BF\u2B00-\u2BFF\u2190-\u21FF\u3030\u303D\u3297"
    r"\u3299\uFE0F\u200D]"
    r"|\[[\u4e00-\u9fffA-Za-z]{1,4}\]"
    r"|/?:[^\s/\[\]:]{0,2}[^\s/\[\]]{1,8}"
    r"|\s)++"
)
EMOJI_MAX = 64  # a longer message is not "just a face"


def _said(*aliases: str) -> Filter:
    wanted = {a.lower() for a in aliases}
    return lambda ctx: bool(ctx.msg.text) and ctx.msg.text.lower().rstrip("!！~～。.") in wanted


def _emoji_only(ctx: Context) -> bool:
    text = ctx.msg.text
    return bool(text) and len(text) <= EMOJI_MAX and _EMOJI.fullmatch(text) is not None


def _unheard_voice(ctx: Context) -> bool:
    return ctx.msg.unheard


@router.on(_said(*GREETINGS))
async def greeting() -> str:
    return join(T.GREETING, T.TOP_WORDS)


@router.on(_said(*THANKS))
async def thanks() -> str:
    return join(T.THANKS, T.TOP_WORDS)


@router.on(_emoji_only)
async def emoji() -> str:
    return join(T.EMOJI_REPLY, T.TOP_WORDS)


@router.on(_said(*A_PERSON), state=ANY_STATE)
async def a_person(settings: Settings, dialog: DialogContext) -> str:
    """人工, also in the middle of a dialog: WeChat's 客服 workbench takes over when
    wechat.kf_transfer is on (the dialog ends: the next message after the person is done
    is not an answer to it); else the hotline (support.hotline, support.hours) or "leave a
    message", and the dialog's question again, or the top words."""
    if settings.wechat.kf_transfer:
        dialog.finish()
        return TRANSFER_TO_KF
    s = settings.support
    hours = f"（{s.hours}）" if s.hours else ""
    person = T.HUMAN_HOTLINE.format(hotline=s.hotline, hours=hours) if s.hotline \
        else T.HUMAN_NO_HOTLINE
    return join(person, dialog.prompt or T.TOP_WORDS)


@router.on(_unheard_voice)
async def unheard_voice(dialog: DialogContext) -> str:
    """Outside dialogs (inside one, the step waits and asks again: bot/router.py)."""
    return join(T.DIALOG_EXPIRED if dialog.expired else None, T.VOICE_UNHEARD)
