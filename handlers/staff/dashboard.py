"""The console's home page: the numbers the district is judged by, for the user's role."""

from __future__ import annotations

from aiohttp import web

from bot.web.pages import now, render, sessions, user_of
from models import stats


async def dashboard(request: web.Request) -> web.Response:
    user = user_of(request)
    async with sessions(request)() as db:
        board = await stats.dashboard(db, now(request), user)
    peak = max((n for _, n in board.days), default=0)
    return await render(request, "dashboard.html", {"board": board, "peak": max(peak, 1)})



def add_routes(console: web.Application) -> None:
    console.router.add_get("/", dashboard, name="dashboard")
