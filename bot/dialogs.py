"""Per-user dialogs: a finite-state machine whose state and data live in the database.

    class Registration(StatesGroup):
        name = State(texts.ASK_NAME)
        mobile = State(texts.ASK_MOBILE)

    @router.state(Registration.name)
    async def got_name(msg: Inbound, dialog: DialogContext) -> str:
        dialog.go(Registration.mobile, name=...)
        return Registration.mobile.prompt

The pipeline loads the dialog before the handler runs and saves it in the same
transaction as the handler's other effects; a dialog idle for longer than
`dialog.idle_timeout` is gone, and 取消 always ends it.
"""

from __future__ import annotations

from typing import Any

ANY_STATE = "*"

_STATES: dict[str, State] = {}


class State:
    """A step of a dialog. A `soft` step (say, "send me a location") gives way: input that
    none of its handlers takes ends the dialog and is handled as if no dialog ran."""

    def __init__(self, prompt: str = "", soft: bool = False, wants_text: bool = True):
        self.prompt = prompt
        self.soft = soft
        self.wants_text = wants_text  # a photo or a location step: no "reply in text" hint
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
