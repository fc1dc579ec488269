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
from typing import TYPE_CHECKING, Any, Protocol

from aiohttp import web
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.clock import Clock
from bot.router import ProfileGate, Router
from bot.settings import Settings

if TYPE_CHECKING:
    from bot.app import Services


@dataclass(frozen=True)
class Platform:
    """What a feature's routes and loops are built with."""

    settings: Settings
    sessions: async_sessionmaker[AsyncSession]
    clock: Clock
    services: Services


class Loop(Protocol):
    """A background loop (the outbox worker is one): runs until stopped."""

    async def run_forever(self) -> None: ...

    def stop(self) -> None: ...


ApiRoutes = Callable[[web.Application, Platform], None]
PageRoutes = Callable[[web.Application], None]
Producer = Callable[[AsyncSession, datetime], Awaitable[int]]
LoopFactory = Callable[[Platform], Loop]
Job = Callable[["Services", datetime], Awaitable[Any]]
OpenApiPart = Callable[[], dict[str, Any]]
# Turns one due row (a reminder, a roll, a scheduled notice…) into outbox rows when due.
DueExpander = Callable[[AsyncSession, Any, datetime], Awaitable[int]]


@dataclass(frozen=True)
class PeriodicJob:
    """Housekeeping run by the scheduler's leader: every `every_s` seconds, or daily at
    `daily_at` ("HH:MM", Asia/Shanghai) when given."""

    id: str
    run: Job
    every_s: float = 0.0
    daily_at: Callable[[Settings], str] | None = None


@dataclass
class Features:
    """Everything the features registered, in the order they registered it."""

    routers: list[Router] = field(default_factory=list)
    fallbacks: list[Router] = field(default_factory=list)
    profile_gate: ProfileGate | None = None
    api: list[ApiRoutes] = field(default_factory=list)
    pages: list[PageRoutes] = field(default_factory=list)
    producers: list[Producer] = field(default_factory=list)
    loops: dict[str, LoopFactory] = field(default_factory=dict)
    jobs: list[PeriodicJob] = field(default_factory=list)
    openapi: list[OpenApiPart] = field(default_factory=list)
    due: dict[str, DueExpander] = field(default_factory=dict)  # by the due row's kind

    def chat(self, *routers: Router) -> None:
        """Routers for words and events, tried in registration order."""
        self.routers.extend(routers)

    def chat_fallback(self, *routers: Router) -> None:
        """Routers tried after every feature's (catch-alls: unknown scenes, 帮助, 没看懂)."""
        self.fallbacks.extend(routers)

    def root_router(self) -> Router:
        root = Router("root")
        root.include(*self.routers, *self.fallbacks)
        return root
