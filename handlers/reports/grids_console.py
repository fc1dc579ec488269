"""网格 in the console (admin): every grid with its officers and open reports, and a GeoJSON
upload judged exactly as `run.py import-grids` judges a file (models/grid.py): all or
nothing, each refused feature named with its index and reason."""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

from bot.files import FileError, json_value
from bot.web.pages import forbid, now, render, sessions
from bot.web.uploads import UploadError, upload_text
from models.grid import import_grids
from models.views import grids as views

log = logging.getLogger(__name__)

ADMIN = ("admin",)


async def _page(request: web.Request, extra: dict[str, Any], status: int = 200
                ) -> web.Response:
    async with sessions(request)() as db:
        rows, unassigned = await views.grid_rows(db)
    return await render(request, "grids.html", {
        "rows": rows, "unassigned": unassigned, "error": "", "rejected": [], "report": None,
        **extra}, status)


async def grid_list(request: web.Request) -> web.StreamResponse:
    forbid(request, ADMIN)
    return await _page(request, {})


async def grid_upload(request: web.Request) -> web.StreamResponse:
    admin = forbid(request, ADMIN)
    try:
        upload = await upload_text(await request.post())
        collection = json_value(upload.text, upload.filename)
    except (UploadError, FileError) as exc:
        return await _page(request, {"error": str(exc)}, 400)
    async with sessions(request)() as db:
        report = await import_grids(db, collection, now(request))
        if report.rejected:
            await db.rollback()  # all or nothing
        else:
            await db.commit()
    if report.rejected:
        return await _page(request, {
            "rejected": report.rejected,
            "error": f"未导入任何网格：{len(report.rejected)} 处有误，请改正后重新上传。"}, 400)
    log.info("console: admin %s imported grids: %d added, %d changed", admin.id,
             len(report.added), len(report.changed))
    return await _page(request, {"report": report})


def add_routes(console: web.Application) -> None:
    r = console.router
    r.add_get("/grids", grid_list)
    r.add_post("/grids", grid_upload)
