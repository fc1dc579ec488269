"""导入成员 in the console (admin): members registered elsewhere, from the same CSV as
`run.py import-members` (openid,name,mobile,industry,platform,party_status), judged by the
same rules (models/member_import.py): all or nothing, each refused row with its line and
reason; consent recorded as given offline."""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

from bot import texts as T
from bot.files import FileError, csv_rows
from bot.web.pages import forbid, now, render, sessions
from bot.web.uploads import UploadError, upload_text
from models.member_import import COLUMNS, import_members

log = logging.getLogger(__name__)

ADMIN = ("admin",)


async def _page(request: web.Request, extra: dict[str, Any], status: int = 200
                ) -> web.Response:
    return await render(request, "members_import.html", {
        "columns": COLUMNS, "error": "", "rejected": [], "report": None, **extra}, status)


async def import_form(request: web.Request) -> web.StreamResponse:
    forbid(request, ADMIN)
    return await _page(request, {})


async def import_upload(request: web.Request) -> web.StreamResponse:
    admin = forbid(request, ADMIN)
    try:
        upload = await upload_text(await request.post())
        rows = csv_rows(upload.text, COLUMNS, upload.filename)
    except (UploadError, FileError) as exc:
        return await _page(request, {"error": str(exc)}, 400)
    if not rows:
        return await _page(request, {"error": "文件里只有表头，没有成员。"}, 400)
    async with sessions(request)() as db:
        report = await import_members(db, rows, now(request), T.INVALID)
        if report.rejected:
            await db.rollback()  # all or nothing (nothing was written)
        else:
            await db.commit()
    if report.rejected:
        return await _page(request, {
            "rejected": report.rejected,
            "error": f"未导入任何数据：{len(report.rejected)} 行有误，请改正后重新上传。"}, 400)
    log.info("console: admin %s imported members: %d added, %d changed", admin.id,
             report.added, report.changed)
    return await _page(request, {"report": report})


def add_routes(console: web.Application) -> None:
    r = console.router
    r.add_get("/members/import", import_form)
    r.add_post("/members/import", import_upload)
