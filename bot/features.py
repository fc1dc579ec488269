"""How a feature plugs into the platform: one `setup(features)` per feature package, called
by the app factory, registers everything the feature brings — its chat routers, its
/api/v1 routes, its console pages, its periodic jobs, the background loops it needs, the
rows it lets the outbox produce when due, and its part of the OpenAPI document.

The platform calls what was registered and never names a feature itself.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.clock import Clock
from bot.router import ProfileGate, Router
from bot.settings import Settings
from bot.wechat.client import WechatApi
from models.due import DuePush


class Worker(Protocol):
    def wake(self) -> None:
        """Something was queued: look now instead of at the next poll."""


class Runtime(Protocol):
    """What talks to WeChat and the database at run time, as features and jobs see it
    (bot/app.py's Services is the one there is)."""

    @property
    def settings(self) -> Settings: ...

    @property
    def engine(self) -> AsyncEngine: ...

    @property
    def clock(self) -> Clock: ...

    @property
    def api(self) -> WechatApi | None: ...

    @property
    def worker(self) -> Worker | None: ...


@dataclass(frozen=True)
class Platform:
    """What a feature's routes and loops are built with."""

    settings: Settings
    sessions: async_sessionmaker[AsyncSession]
    clock: Clock
    services: Runtime


class Loop(Protocol):
    """A background loop (the outbox worker is one): runs until stopped."""

    async def run_forever(self) -> None: ...

    def stop(self) -> None: ...


ApiRoutes = Callable[[web.Application, Platform], None]
PageRoutes = Callable[[web.Application], None]
LoopFactory = Callable[[Platform], Loop]
Job = Callable[[Runtime, datetime], Awaitable[Any]]
OpenApiPart = Callable[[], dict[str, Any]]
# Demo data for dev mode: writes its rows, returns a line to print (or None).
Seed = Callable[[AsyncSession, Settings, datetime], Awaitable[str | None]]
# Turns one due row (models/due.py: a reminder, a roll, a scheduled notice…) into outbox
# rows when due: how many it queued, or None when the row had become stale (dropped); it
# raises models.due.NotYet to be asked again later. Made per process from the Platform.
DueExpander = Callable[[AsyncSession, DuePush, datetime], Awaitable[int | None]]
DueExpanderFactory = Callable[[Platform], DueExpander]


DAY_S = 86_400.0


@dataclass(frozen=True)
class MenuEntry:
    """A console menu entry: the page, its label, the roles that see it, and where it
    stands (lower first)."""

    path: str
    label: str
    roles: frozenset[str]
    rank: int = 100


@dataclass(frozen=True)
class PeriodicJob:
    """Housekeeping run by the scheduler's leader (bot/scheduler.py), on the bot's loop:
    every `every_s` seconds, or daily at `daily_at` ("HH:MM", Asia/Shanghai) when given.
    `run(services, now)` must be safe to run twice for one period (a daily job missed
    while no instance ran is run when a leader starts after its time)."""

    id: str
    run: Job
    every_s: float = 0.0
    daily_at: Callable[[Settings], str] | None = None

    def __post_init__(self) -> None:
        if (self.every_s > 0) == (self.daily_at is not None):
            raise ValueError(f"job {self.id}: give every_s or daily_at, not both or neither")

    @property
    def period_s(self) -> float:
        """How often it runs: /healthz calls it stalled after two periods without success."""
        return DAY_S if self.daily_at is not None else float(self.every_s)


@dataclass
class Features:
    """Everything the features registered, in the order they registered it."""

    routers: list[Router] = field(default_factory=list)
    fallbacks: list[Router] = field(default_factory=list)
    profile_gate: ProfileGate | None = None
    api: list[ApiRoutes] = field(default_factory=list)
    pages: list[PageRoutes] = field(default_factory=list)
    menu: list[MenuEntry] = field(default_factory=list)
    templates: list[Path] = field(default_factory=list)  # folders of console templates
    loops: dict[str, LoopFactory] = field(default_factory=dict)
    jobs: list[PeriodicJob] = field(default_factory=list)
    openapi: list[OpenApiPart] = field(default_factory=list)
    due: dict[str, DueExpanderFactory] = field(default_factory=dict)  # by the row's kind
    seeds: list[Seed] = field(default_factory=list)  # dev mode's demo data
    intents: list[Path] = field(default_factory=list)  # intents.yaml files (bot/language)

    def chat(self, *routers: Router) -> None:
        """Routers for words and events, tried in registration order."""
        self.routers.extend(routers)

    def chat_fallback(self, *routers: Router) -> None:
        """Routers tried after every feature's (catch-alls: unknown scenes, 帮助, 没看懂)."""
        self.fallbacks.extend(routers)

    def intent_file(self, path: Path) -> None:
        """What riders type for the feature's words (bot/language/intents.py): the intent
        matcher reads it at start-up."""
        if path not in self.intents:
            self.intents.append(path)

    def console(self, add_routes: PageRoutes, templates: Path, *menu: MenuEntry) -> None:
        """Console pages: the function adding their routes, the folder of their
        templates, and their entries in the menu."""
        self.pages.append(add_routes)
        if templates not in self.templates:
            self.templates.append(templates)
        self.menu.extend(menu)

    def root_router(self, *platform: Router) -> Router:
        """Every chat router: the platform's own (`platform`), the features', then the
        features' fallbacks."""
        root = Router("root")
        root.include(*platform, *self.routers, *self.fallbacks)
        return root
