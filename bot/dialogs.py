"""Per-user dialogs: a finite-state machine whose state and data live in the database.

    class Registration(StatesGroup):
        name = State(texts.ASK_NAME)      # texts.step(question, how to answer)
        mobile = State(texts.ASK_MOBILE)

    @router.state(Registration.name)
    async def got_name(msg: Inbound, dialog: DialogContext) -> str:
        dialog.go(Registration.mobile, name=...)
        return Registration.mobile.prompt

The pipeline loads the dialog before the handler runs and saves it in the same
transaction as the handler's other effects; a dialog idle for longer than
`dialog.idle_timeout` is gone, and 取消 — or any "never mind" phrasing (`is_cancel`) —
always ends it, before a step could take it for an answer.

Every step's prompt is made by `texts.step(question, how)`: it ends with how to answer and
that 「取消」 leaves. A State whose prompt does not end so is refused when it is declared.
"""

from __future__ import annotations

import re
from typing import Any

from bot import texts as T

ANY_STATE = "*"

# "Never mind": the whole message (normalised) is one of these, maybe repeated, maybe with a
# filler before it and polite particles or punctuation after it. "路灯坏了算了" is not.
CANCEL_WORDS = (
    "取消", "退出", "算了", "罢了", "不要了", "不需要了", "放弃", "不弄了", "不搞了",
    "不做了", "不办了", "不报了", "不上报了", "不填了", "不写了", "不改了", "不注册了", "不登记了",
    "不退了", "不转了", "不注销了", "不想弄了", "不想报了", "不想填了", "不干了", "没事了", "撤销",
    "先不了", "先不弄了", "下次吧", "下次再说", "以后再说", "算啦", "停", "停止", "结束", "返回",
    "cancel", "quit", "exit", "stop",
)
# 不/别/不想 + doing the dialog's thing (不签了, 别弄了, 我不报名了). Not 要 or 用: 不要/不用了
# may answer a step (no photo).
CANCEL_VERBS = ("报", "弄", "搞", "做", "办", "填", "写", "改", "签", "签到", "注册", "登记",
                "报名", "上报", "注销", "退", "转", "请假", "干", "继续", "玩")
_FILLERS = "那|那就|那还是|还是|哎|唉|嗯|呃|额|好吧|我|我还是|先"
_PARTICLES = "吧啦了呀啊哈呢嘛哦喔噢咯嘞"
_PUNCT = r"\s。，,.!！~～…?？、\-_" + "😂🙏👌"
_FILLER = "|".join(sorted(_FILLERS.split("|"), key=len, reverse=True))  # longest first
_VERBS = "|".join(sorted(CANCEL_VERBS, key=len, reverse=True))
_WORD = (f"{'|'.join(sorted(map(re.escape, CANCEL_WORDS), key=len, reverse=True))}"
         f"|(?:不想再?|不再|不|别再?)(?:{_VERBS})了?")
# Atomic groups and possessive repeats: a word matched one way is never tried another way
# (不弄了 is a word and 不+弄+了 too), so a long near-miss cannot make the regex backtrack.
_CANCEL = re.compile(
    rf"(?:{_FILLER})?[{_PUNCT}]*"
    rf"(?>{_WORD})(?:[{_PUNCT}]*+(?>{_WORD}))*+"
    rf"[{_PARTICLES}]*+[{_PUNCT}]*+"
)
CANCEL_MAX = 24  # a "never mind" is short; longer text is an answer, read as such


def is_cancel(text: str | None) -> bool:
    """The message says "never mind" and nothing else (取消, 算了吧, 不要了。, 不报了啦…)."""
    if text is None or len(text) > CANCEL_MAX:
        return False
    return _CANCEL.fullmatch(text.strip().lower()) is not None

_STATES: dict[str, State] = {}


class State:
    """A step of a dialog. A `soft` step (say, "send me a location") gives way: input that
    none of its handlers takes ends the dialog and is handled as if no dialog ran."""

    def __init__(self, prompt: str, soft: bool = False, wants_text: bool = True,
                 unheard: str | None = None):
        if not prompt.endswith(T.STEP_END):
            raise ValueError(f"a dialog step's prompt must be made by texts.step(): {prompt!r}")
        self.prompt = prompt
        self.soft = soft
        self.wants_text = wants_text  # a photo or a location step: no "reply in text" hint
        # Said before the prompt to a voice without words (Inbound.unheard); by default
        # "type it or say it again" at a step that wants text, nothing at one that does not.
        self.unheard = unheard if unheard is not None else \
            (T.VOICE_UNHEARD_STEP if wants_text else "")
        self.name = ""

    def __set_name__(self, owner: type, attr: str) -> None:
        self.name = f"{owner.__name__}.{attr}"
        if self.name in _STATES:
            raise ValueError(f"duplicate dialog state {self.name}")
        _STATES[self.name] = self

    def __repr__(self) -> str:
        return f"State({self.name})"


class StatesGroup:
    """A namespace of States: one per dialog."""


def state_named(name: str | None) -> State | None:
    return _STATES.get(name) if name else None


class DialogContext:
    """The running dialog of the sender, as handlers see it."""

    def __init__(self, state: str | None = None, data: dict[str, Any] | None = None,
                 expired: bool = False):
        known = state_named(state)
        self.state: str | None = known.name if known else None
        self.data: dict[str, Any] = dict(data or {}) if known else {}
        self.expired = expired
        self.changed = bool(state) and known is None  # a state the code no longer has: drop it

    @property
    def prompt(self) -> str:
        st = state_named(self.state)
        return st.prompt if st else ""

    @property
    def wants_text(self) -> bool:
        st = state_named(self.state)
        return bool(st and st.wants_text)

    @property
    def unheard(self) -> str:
        st = state_named(self.state)
        return st.unheard if st else ""

    @property
    def soft(self) -> bool:
        st = state_named(self.state)
        return bool(st and st.soft)

    def is_in(self, *states: State) -> bool:
        return self.state in {s.name for s in states}

    def start(self, state: State, **data: Any) -> None:
        self.state, self.data, self.changed = state.name, dict(data), True

    def go(self, state: State, **updates: Any) -> None:
        self.state = state.name
        self.data.update(updates)
        self.changed = True

    def update(self, **updates: Any) -> None:
        self.data.update(updates)
        self.changed = True

    def finish(self) -> None:
        self.state, self.data, self.changed = None, {}, True
