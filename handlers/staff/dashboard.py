"""The console's home page: the numbers the district is judged by, for the user's role."""

from __future__ import annotations

from aiohttp import web

from bot.web.pages import SETTINGS, now, render, sessions, user_of
from handlers.staff import charts
from models import stats


async def dashboard(request: web.Request) -> web.Response:
    user = user_of(request)
    async with sessions(request)() as db:
        board = await stats.dashboard(db, now(request), user)
    targets = request.app[SETTINGS].console.targets
    numbers = board.reports
    return await render(request, "dashboard.html", {
        "board": board, "wide": charts.columns(board.days), "tall": charts.rows(board.days),
        "resolution": charts.grade(numbers["resolution_rate"], targets.resolution_rate),
        "satisfaction": charts.grade(numbers["satisfaction_rate"], targets.satisfaction_rate),
        "busiest": max(board.days, key=lambda d: d[1], default=None)})


def add_routes(console: web.Application) -> None:
    console.router.add_get("/", dashboard, name="dashboard")
