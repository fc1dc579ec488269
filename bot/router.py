"""Routers, filters and the dispatcher.

A feature module makes a `Router`, decorates its handlers with the words, events,
scenes or dialog states that reach them, and the root router includes it. The
dispatcher picks the first handler whose filters match and calls it with the
values it names as parameters (injection by parameter name, as in aiogram 3):

    router = Router("profile", help=["我的 — 查看资料和积分"])

    @router.words("我的", needs_profile=True)
    async def my_profile(member: Member) -> str: ...

Parameters a handler may ask for: msg, member, dialog, session, clock, now,
settings, staff, help_lines, ctx, and the names a filter captured (regex groups).
A handler returns the reply text, None (nothing to say: WeChat gets "success"),
or `Redispatch` to hand a stored message on (resuming after registration).
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from bot import texts as T
from bot.clock import Clock
from bot.dialogs import ANY_STATE, DialogContext, State
from bot.language.normalise import answer
from bot.settings import Settings
from bot.wechat.message import Inbound, normalize
from models.member import Member
from models.staff import ROLES, ConsoleUser

FilterResult = bool | dict[str, Any] | None
Filter = Callable[["Context"], FilterResult]
HandlerFn = Callable[..., Awaitable[Any]]

_INJECTABLE = {
    "msg",
    "member",
    "dialog",
    "session",
    "clock",
    "now",
    "settings",
    "staff",
    "help_lines",
    "ctx",
}


@dataclass
class Context:
    """Everything one message's handling can see."""

    msg: Inbound
    session: AsyncSession
    clock: Clock
    now: datetime
    settings: Settings
    member: Member
    dialog: DialogContext
    # The sender's console account, looked up only when a handler needs it (most don't).
    staff_loader: Callable[[], Awaitable[ConsoleUser | None]] | None = None
    help_lines: list[str] = field(default_factory=list)
    _staff: ConsoleUser | None = None
    _staff_loaded: bool = False

    async def staff(self) -> ConsoleUser | None:
        if not self._staff_loaded:
            self._staff = await self.staff_loader() if self.staff_loader else None
            self._staff_loaded = True
        return self._staff


@dataclass(frozen=True)
class Redispatch:
    """Say `prefix`, then handle `msg` as if it had just arrived."""

    prefix: str
    msg: Inbound


# --- filters -------------------------------------------------------------------------------


def _filter(fn: Callable[[Context], FilterResult], captures: Iterable[str] = ()) -> Filter:
    """Mark a callable as a filter and record the names it hands to the handler."""
    fn.captures = frozenset(captures)  # type: ignore[attr-defined]
    return fn


def words(*aliases: str) -> Filter:
    """The text (normalised, menu click keys included) is one of the aliases."""
    wanted = {normalize(a) for a in aliases}
    f = _filter(lambda ctx: bool(ctx.msg.text) and ctx.msg.text in wanted)
    f.words = frozenset(wanted)  # type: ignore[attr-defined]  # see Dispatcher.staff_words
    return f


def command(word: str, arg: str = "arg", pattern: str = r".+") -> Filter:
    """`word ARG`: the word, optional space, then the argument (captured under `arg`)."""
    return regex(rf"{re.escape(normalize(word))}\s*(?P<{arg}>{pattern})")


def regex(pattern: str | re.Pattern[str]) -> Filter:
    """The whole text matches; named groups are handed to the handler."""
    rx = re.compile(pattern, re.S) if isinstance(pattern, str) else pattern

    def _match(ctx: Context) -> FilterResult:
        m = rx.fullmatch(ctx.msg.text) if ctx.msg.text else None
        return m.groupdict() if m else False

    return _filter(_match, rx.groupindex)


def text_input() -> Filter:
    """Anything with words in it: a text, a voice message's recognition, a menu click."""
    return _filter(lambda ctx: bool(ctx.msg.text))


def message(*types: str) -> Filter:
    """A user message of one of these types: text, image, voice, location, …"""
    wanted = set(types)
    return _filter(lambda ctx: ctx.msg.msg_type in wanted)


def event(*names: str) -> Filter:
    """An event by its lower-case name: subscribe, subscribe_scan, scan, click, …"""
    wanted = {n.lower() for n in names}
    return _filter(lambda ctx: ctx.msg.is_event and ctx.msg.event in wanted)


def scene(prefix: str) -> Filter:
    """A QR scan (SCAN, or follow by scanning) whose scene starts with `prefix`;
    the rest of the scene is handed over as `scene_arg`."""

    def _match(ctx: Context) -> FilterResult:
        s = ctx.msg.scene
        return {"scene_arg": s[len(prefix) :]} if s and s.startswith(prefix) else False

    return _filter(_match, {"scene_arg"})


# --- routers -------------------------------------------------------------------------------


_NO_DIALOG = None


@dataclass
class Handler:
    fn: HandlerFn
    filters: tuple[Filter, ...]
    state: str | None  # None: only outside dialogs; ANY_STATE: always; else a State name
    needs_profile: bool
    roles: frozenset[str]
    params: tuple[str, ...]
    fallback: bool = False
    # A handler whose one filter is `words`: its words, so the dispatcher can pass it over
    # with a set lookup instead of calling the filter (most handlers are such).
    only_words: frozenset[str] | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        if len(self.filters) == 1:
            self.only_words = getattr(self.filters[0], "words", None)

    @property
    def name(self) -> str:
        return f"{self.fn.__module__}.{self.fn.__qualname__}"

    def match(self, ctx: Context) -> dict[str, Any] | None:
        captured: dict[str, Any] = {}
        for f in self.filters:
            result = f(ctx)
            if isinstance(result, dict):
                captured.update(result)  # a match, even with nothing captured
            elif not result:
                return None
        return captured


class Router:
    def __init__(self, name: str, help: Iterable[str] = (), help_roles: Iterable[str] = ()):
        self.name = name
        self.help = list(help)
        self.help_roles = frozenset(help_roles)  # its help lines are shown to these staff only
        self.handlers: list[Handler] = []
        self.children: list[Router] = []

    def include(self, *routers: Router) -> Router:
        self.children.extend(routers)
        return self

    def on(
        self,
        *filters: Filter,
        state: State | str | None = _NO_DIALOG,
        needs_profile: bool = False,
        roles: Iterable[str] = (),
        fallback: bool = False,
    ) -> Callable[[HandlerFn], HandlerFn]:
        state_name = state.name if isinstance(state, State) else state
        role_set = frozenset(roles)
        if unknown := role_set - ROLES.keys():
            raise ValueError(f"unknown roles {sorted(unknown)}")

        def decorate(fn: HandlerFn) -> HandlerFn:
            if not inspect.iscoroutinefunction(fn):
                raise TypeError(f"{fn.__qualname__} must be async")
            params = tuple(inspect.signature(fn).parameters)
            self.handlers.append(
                Handler(fn, filters, state_name, needs_profile, role_set, params, fallback)
            )
            return fn

        return decorate

    # Sugar for the common cases.
    def words(self, *aliases: str, **kw: Any) -> Callable[[HandlerFn], HandlerFn]:
        return self.on(words(*aliases), **kw)

    def command(self, word: str, **kw: Any) -> Callable[[HandlerFn], HandlerFn]:
        return self.on(command(word), **kw)

    def regex(self, pattern: str, **kw: Any) -> Callable[[HandlerFn], HandlerFn]:
        return self.on(regex(pattern), **kw)

    def event(self, *names: str, **kw: Any) -> Callable[[HandlerFn], HandlerFn]:
        kw.setdefault("state", ANY_STATE)
        return self.on(event(*names), **kw)

    def scene(self, prefix: str, **kw: Any) -> Callable[[HandlerFn], HandlerFn]:
        kw.setdefault("state", ANY_STATE)
        return self.on(scene(prefix), **kw)

    def state(self, st: State, *filters: Filter, **kw: Any) -> Callable[[HandlerFn], HandlerFn]:
        return self.on(*filters, state=st, **kw)

    def fallback(self, *filters: Filter, **kw: Any) -> Callable[[HandlerFn], HandlerFn]:
        kw.setdefault("state", ANY_STATE)
        return self.on(*filters, fallback=True, **kw)

    def walk(self) -> Iterable[Router]:
        yield self
        for child in self.children:
            yield from child.walk()


ProfileGate = Callable[[Context], Awaitable[str]]


class Dispatcher:
    """Picks the handler for a message and runs it with what it asks for."""

    def __init__(self, root: Router, profile_gate: ProfileGate):
        routers = list(root.walk())
        handlers = [h for r in routers for h in r.handlers]
        for h in handlers:
            self._check_params(h)
        self._always = [h for h in handlers if h.state == ANY_STATE and not h.fallback]
        self._free = [h for h in handlers if h.state is None and not h.fallback]
        self._by_state: dict[str, list[Handler]] = {}
        for h in handlers:
            if h.state not in (None, ANY_STATE):
                self._by_state.setdefault(h.state, []).append(h)
        self._fallbacks = [h for h in handlers if h.fallback]
        self._profile_gate = profile_gate
        self._help = [(line, r.help_roles) for r in routers for line in r.help]

    @property
    def staff_words(self) -> frozenset[str]:
        """The words only staff may send: the intent matcher must never lead to one."""
        handlers = [*self._always, *self._free, *self._fallbacks,
                    *(h for hs in self._by_state.values() for h in hs)]
        return frozenset(w for h in handlers if h.roles
                         for f in h.filters for w in getattr(f, "words", ()))

    @staticmethod
    def _check_params(h: Handler) -> None:
        captures = {name for f in h.filters for name in getattr(f, "captures", ())}
        unknown = set(h.params) - _INJECTABLE - captures
        if unknown:
            raise TypeError(f"{h.name} asks for unknown parameters {sorted(unknown)}")

    def _candidates(self, ctx: Context) -> Iterable[Handler]:
        yield from self._always
        state = ctx.dialog.state
        if state is not None:
            yield from self._by_state.get(state, ())
        else:
            yield from self._free
        if state is None or not ctx.msg.is_input:
            yield from self._fallbacks

    async def dispatch(self, ctx: Context) -> str | None:
        ctx = _as_answer(ctx)
        text = ctx.msg.text
        for handler in self._candidates(ctx):
            if handler.only_words is not None:  # what the words filter would say
                if not text or text not in handler.only_words:
                    continue
                return await self._run(handler, ctx, {})
            captured = handler.match(ctx)
            if captured is not None:
                return await self._run(handler, ctx, captured)
        if ctx.dialog.state is not None and ctx.msg.is_input:
            if ctx.msg.unheard:  # a voice without words: the step waits, even a soft one
                return join(ctx.dialog.unheard, ctx.dialog.prompt)
            if ctx.dialog.soft:  # the step gives way: handle the message afresh
                ctx.dialog.finish()
                return await self.dispatch(ctx)
            # A dialog waits, but nothing took this message: ask its question again.
            needs_text = T.DIALOG_NEEDS_TEXT if not ctx.msg.text and ctx.dialog.wants_text \
                else None
            return join(needs_text, ctx.dialog.prompt)  # it says how to leave
        return None

    async def _run(self, handler: Handler, ctx: Context, captured: dict[str, Any]) -> str | None:
        wants_staff = handler.roles or {"staff", "help_lines"} & set(handler.params)
        staff = await ctx.staff() if wants_staff else None
        if "help_lines" in handler.params:  # staff words are listed to their staff only
            ctx.help_lines = [line for line, roles in self._help
                              if not roles or _has_role(staff, roles)]
        if handler.roles and not _has_role(staff, handler.roles):
            names = "、".join(ROLES[r] for r in sorted(handler.roles))
            word = ctx.msg.text.split(" ")[0] if ctx.msg.text else ""
            return T.STAFF_ONLY.format(word=word, roles=names)
        if handler.needs_profile and not ctx.member.registered:
            return await self._profile_gate(ctx)
        values: dict[str, Any] = {
            "msg": ctx.msg,
            "member": ctx.member,
            "dialog": ctx.dialog,
            "session": ctx.session,
            "clock": ctx.clock,
            "now": ctx.now,
            "settings": ctx.settings,
            "staff": staff,
            "help_lines": ctx.help_lines,
            "ctx": ctx,
            **captured,
        }
        result = await handler.fn(**{p: values[p] for p in handler.params})
        if isinstance(result, Redispatch):
            more = await self.dispatch(replace(ctx, msg=result.msg))
            return join(result.prefix, more)
        return result


def _as_answer(ctx: Context) -> Context:
    """Inside a dialog, words typed or recognised from a voice are an answer without the
    punctuation that ends the sentence (bot/language/normalise.py `answer`): "确认。" confirms,
    "13800138000。" is a mobile number, whether typed or said."""
    msg = ctx.msg
    if ctx.dialog.state is None or msg.msg_type not in ("text", "voice") or not msg.content:
        return ctx
    said = answer(msg.content)
    return ctx if said == msg.content else replace(ctx, msg=replace(msg, content=said))


def _has_role(staff: ConsoleUser | None, roles: frozenset[str]) -> bool:
    return staff is not None and (staff.role in roles or staff.role == "admin")


def join(*parts: str | None) -> str:
    return "\n".join(p for p in parts if p)
