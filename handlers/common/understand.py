"""What the bot does with words no handler took: it reads them as a rider means them.

1. The canonical form (traditional → simplified, voice punctuation, emoji, numerals: see
   bot/language/normalise.py) is handled afresh once, so "簽到。" is exactly 签到 — staff
   words included, with their role checks.
2. Then the intents every feature declared (handlers/*/intents.yaml) are ranked: when sure,
   the message is handled as the intent's word (with a captured code, or the whole text for
   a described problem); when unsure, the likeliest one to three words are offered and a
   bare 「是」 takes the first; otherwise a short menu of the most used words.
"""

from __future__ import annotations

from dataclasses import replace

from bot import texts as T
from bot.dialogs import DialogContext, State, StatesGroup
from bot.language import Match, current
from bot.router import Redispatch, Router, words
from bot.wechat.message import Inbound

router = Router("understand")

MARK = "understood"  # Inbound.extra: how far this message was re-read already
CANONICAL, INTENT = "canonical", "intent"
MAX_ECHO = 20
YES = ("是", "是的", "对", "对的", "对呀", "嗯", "嗯嗯", "好", "好的", "可以", "行", "要", "确认",
       "没错", "ok", "yes", "y", "👌", "👍")
NO = ("不是", "不对", "不", "不要", "错了", "no", "n")


class Offer(StatesGroup):
    # Gives way: anything but a yes, a no or a number is handled as if nothing was asked.
    pending = State(T.step(T.OFFER_PENDING, T.OFFER_HOW), soft=True)


def said_as(msg: Inbound, text: str, stage: str) -> Inbound:
    """The message, as if the rider had typed `text`."""
    return replace(msg, msg_type="text", event=None, key=None, content=text,
                   extra={**msg.extra, MARK: stage})


def _echo(text: str) -> str:
    return text if len(text) <= MAX_ECHO else text[:MAX_ECHO] + "…"


def menu(text: str, help_lines: list[str]) -> str:
    """The four most used words (their help lines), and 帮助."""
    lines = []
    for intent in current().menu:
        line = next((h for h in help_lines if h.startswith(f"{intent.word} ")), None)
        lines.append(line or f"{intent.word}")
    return T.LOW_MENU.format(text=_echo(text), lines="\n".join(lines))


def _offer(matches: list[Match], dialog: DialogContext) -> str:
    dialog.start(Offer.pending, offers=[m.said for m in matches])
    first = matches[0]
    if first.intent.spots and first.arg:
        return T.OFFER_PROBLEM.format(text=_echo(first.arg))
    if len(matches) == 1:
        return T.OFFER_ONE.format(word=first.intent.word)
    names = "还是".join(f"「{m.intent.word}」" for m in matches)
    return T.OFFER_MANY.format(words=names)


def understand(msg: Inbound, dialog: DialogContext, help_lines: list[str]
               ) -> str | Redispatch:
    """The reply to text no handler took (outside dialogs)."""
    stage = msg.extra.get(MARK)
    if stage == INTENT:  # handled as an intent's word, and still nothing took it
        return menu(msg.text, help_lines)
    ranking = current().rank(msg.text)
    if stage is None and ranking.text and ranking.text != msg.text:
        return Redispatch("", said_as(msg, ranking.text, CANONICAL))
    if (sure := ranking.sure) is not None:
        return Redispatch("", said_as(msg, sure.said, INTENT))
    if offers := ranking.offers:
        return _offer(offers, dialog)
    return menu(msg.text, help_lines)


@router.state(Offer.pending, words(*YES))
async def accepted(msg: Inbound, dialog: DialogContext) -> Redispatch:
    said = dialog.data.get("offers", [""])[0]
    dialog.finish()
    return Redispatch("", said_as(msg, said, INTENT))


@router.state(Offer.pending, words("1", "2", "3"))
async def chosen(msg: Inbound, dialog: DialogContext) -> Redispatch | str:
    offers = dialog.data.get("offers", [])
    n = int(msg.text) - 1
    dialog.finish()
    if n >= len(offers):
        return T.OFFER_DECLINED
    return Redispatch("", said_as(msg, offers[n], INTENT))


@router.state(Offer.pending, words(*NO))
async def declined(dialog: DialogContext) -> str:
    dialog.finish()
    return T.OFFER_DECLINED

