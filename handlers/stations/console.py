"""驿站 in the console (admin): the list with 30-day check-ins, editing, an all-or-nothing CSV
import, a QR code per station, and the check-ins flagged for review."""

from __future__ import annotations

import asyncio
import csv
import io
import logging
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.clock import SHANGHAI
from bot.web.pages import (
    SETTINGS,
    csv_response,
    not_found,
    now,
    qr_response,
    render,
    require,
    sessions,
)
from models import station_import as imports
from models.checkin import local_day
from models.station import KINDS, Station
from models.views import stations as views

log = logging.getLogger(__name__)

UPLOAD_MAX_BYTES = 1_000_000


# --- 驿站 -------------------------------------------------------------------------------------

FIELDS = ("name", "address", "radius_m", "hours", "services", "phone")
FIELD_NAMES = {"name": "名称", "address": "地址", "radius_m": "半径", "hours": "营业时间",
               "phone": "电话"}


async def station_list(request: web.Request) -> web.StreamResponse:
    require(request, ("admin",))
    q = request.query
    f = {"q": q.get("q", "").strip()[:40], "kind": q.get("kind", ""),
         "active": q.get("active", "")}
    first = local_day(now(request)) - timedelta(days=29)
    async with sessions(request)() as db:
        rows, flagged = await views.station_list(db, f, first)
    if q.get("format") == "csv":
        return csv_response("驿站.csv", [
            "code", "name", "kind", "address", "lat", "lng", "radius_m", "services", "hours",
            "phone", "active", "checkins_30d"], [
            [s.code, s.name, s.kind, s.address, s.lat, s.lng, s.radius_m, "、".join(s.services),
             s.hours_text, s.phone, "是" if s.active else "否", n] for s, n in rows])
    query = urlencode({k: v for k, v in f.items() if v})
    return await render(request, "stations_list.html", {
        "rows": rows, "f": f, "kinds": KINDS, "flagged": flagged, "query": query})


async def _station(request: web.Request, db: AsyncSession) -> Station:
    require(request, ("admin",))
    station = await db.get(Station, int(request.match_info["id"]))
    if station is None:
        raise not_found(request)
    return station


def _station_form(s: Station) -> dict[str, str]:
    return {"name": s.name, "address": s.address, "radius_m": str(s.radius_m),
            "hours": s.hours_text, "services": "、".join(s.services), "phone": s.phone,
            "active": "1" if s.active else ""}


def _raw(s: Station, form: dict[str, str]) -> dict[str, Any]:
    """A station-file row of the station with the form's values (the import's rules judge
    it)."""
    return {"code": s.code, "kind": s.kind, "lat": s.lat, "lng": s.lng, "datum": "gcj02",
            **{k: form[k] for k in FIELDS}}


def _why(field: str, message: str) -> str:
    if message.startswith("缺少"):
        return "必填"
    if message.startswith("address") or message.startswith("phone"):
        return {"address": "地址最长200字", "phone": "电话最长32个字符"}.get(field, message)
    for column, name in (("radius_m", "半径"), ("hours: ", "营业时间："), ("name", "名称")):
        message = message.replace(column, name)
    return message


def _check_station(s: Station, form: dict[str, str], default_radius: int
                   ) -> tuple[dict[str, Any] | None, dict[str, str]]:
    """The clean fields, or each field's error (each field judged alone against the
    station's other values, so every wrong field is named)."""
    errors: dict[str, str] = {}
    base = _raw(s, _station_form(s))
    for field in FIELDS:
        try:
            imports.clean_row({**base, field: form[field]}, default_radius)
        except imports.BadRow as exc:
            errors[field] = _why(field, str(exc))
    if not form["radius_m"].strip():
        errors["radius_m"] = "必填"
    if errors:
        return None, errors
    try:
        return imports.clean_row(_raw(s, form), default_radius), {}
    except imports.BadRow as exc:
        return None, {"form": str(exc)}


async def station_edit(request: web.Request) -> web.StreamResponse:
    async with sessions(request)() as db:
        station = await _station(request, db)
        saved = request.query.get("saved") == "1"
        return await render(request, "stations_edit.html", {
            "s": station, "form": _station_form(station), "errors": {}, "saved": saved})


async def station_save(request: web.Request) -> web.StreamResponse:
    data = await request.post()
    form = {k: str(data.get(k, "")).strip()[:300] for k in FIELDS}
    form["active"] = "1" if data.get("active") else ""
    default_radius = request.app[SETTINGS].checkin.default_radius_m
    async with sessions(request)() as db, db.begin():
        station = await _station(request, db)
        clean, errors = _check_station(station, form, default_radius)
        if clean is None:
            return await render(request, "stations_edit.html", {
                "s": station, "form": form, "errors": errors, "saved": False}, 400)
        station.name, station.address = clean["name"], clean["address"]
        station.radius_m, station.phone = clean["radius_m"], clean["phone"]
        station.services, station.hours_text = clean["services"], clean["hours_text"]
        station.hours, station.active = clean["hours"], bool(form["active"])
        station.updated_at = now(request)
        db.add(station)
        station_id = station.id
    log.info("console: station %s edited", station_id)
    raise web.HTTPSeeOther(f"/console/stations/{station_id}/edit?saved=1")


async def station_qr(request: web.Request) -> web.StreamResponse:
    async with sessions(request)() as db:
        station = await _station(request, db)
    return await qr_response(request, f"st:{station.code}", f"station-{station.code}.png")


class NotCsv(ValueError):
    pass


def read_csv(data: bytes) -> list[tuple[int, dict[str, Any]]]:
    """The rows of an uploaded station CSV with their line numbers; NotCsv when the file as
    a whole is not one (binary, wrong encoding, wrong header, no rows)."""
    if not data.strip():
        raise NotCsv("文件是空的。")
    if b"\x00" in data or data[:4] == b"PK\x03\x04":
        raise NotCsv("这不是 CSV 文件（像是 Excel 等二进制文件）。请在 Excel 中“另存为”CSV 格式。")
    for encoding in ("utf-8-sig", "gb18030"):  # Excel in Chinese saves CSV as GBK
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise NotCsv("无法识别文件编码，请保存为 UTF-8 编码的 CSV。")
    try:
        reader = csv.DictReader(io.StringIO(text, newline=""))
        header = [(h or "").strip() for h in (reader.fieldnames or [])]
        if missing := [c for c in imports.REQUIRED if c not in header]:
            raise NotCsv(f"表头缺少列：{', '.join(missing)}。表头应为："
                         f"{','.join(imports.COLUMNS)}")
        rows = []
        for row in reader:
            clean = {(k or "").strip(): v for k, v in row.items() if k is not None}
            if None in row:
                clean["__extra__"] = True
            rows.append((reader.line_num, clean))
    except csv.Error as exc:
        raise NotCsv(f"不是有效的 CSV：{exc}") from None
    if not rows:
        raise NotCsv("文件里只有表头，没有驿站。")
    return rows


async def import_form(request: web.Request) -> web.StreamResponse:
    require(request, ("admin",))
    return await render(request, "stations_import.html", {
        "columns": imports.COLUMNS, "error": "", "rejected": [], "report": None})


async def import_upload(request: web.Request) -> web.StreamResponse:
    require(request, ("admin",))
    data = await request.post()
    upload = data.get("file")
    ctx: dict[str, Any] = {"columns": imports.COLUMNS, "error": "", "rejected": [],
                           "report": None}
    if not isinstance(upload, web.FileField):
        ctx["error"] = "请选择要上传的 CSV 文件。"
        return await render(request, "stations_import.html", ctx, 400)
    content = await asyncio.to_thread(upload.file.read, UPLOAD_MAX_BYTES + 1)
    if len(content) > UPLOAD_MAX_BYTES:
        ctx["error"] = "文件太大（最多1MB）。"
        return await render(request, "stations_import.html", ctx, 400)
    try:
        rows = read_csv(content)
    except NotCsv as exc:
        ctx["error"] = str(exc)
        return await render(request, "stations_import.html", ctx, 400)
    extra = [(line, "这一行的列数比表头多（地址或服务里的逗号请用引号括起来）")
             for line, row in rows if row.pop("__extra__", False)]
    default_radius = request.app[SETTINGS].checkin.default_radius_m
    async with sessions(request)() as db:
        report = await imports.import_stations(db, rows, default_radius, now(request))
        rejected = sorted([*extra, *report.rejected])
        if rejected:
            await db.rollback()  # all or nothing
        else:
            await db.commit()
    if rejected:
        ctx["rejected"] = rejected
        ctx["error"] = f"未导入任何驿站：{len(rejected)} 行有误，请改正后重新上传。"
        return await render(request, "stations_import.html", ctx, 400)
    log.info("console: stations imported: %d added, %d changed", len(report.added),
             len(report.changed))
    ctx["report"] = report
    return await render(request, "stations_import.html", ctx)


async def flagged(request: web.Request) -> web.StreamResponse:
    require(request, ("admin",))
    async with sessions(request)() as db:
        rows = await views.flagged_checkins(db)
    if request.query.get("format") == "csv":
        return csv_response("待复核签到.csv", ["时间", "驿站", "成员", "方式", "原因"], [
            [c.at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M"), sname, mname or "（已注销）",
             "扫码" if c.method == "qr" else "位置", c.flag_reason] for c, sname, mname in rows])
    return await render(request, "stations_flagged.html", {"rows": rows})


def add_routes(console: web.Application) -> None:
    r = console.router
    r.add_get("/stations", station_list, name="stations")
    r.add_get("/stations/import", import_form)
    r.add_post("/stations/import", import_upload)
    r.add_get("/stations/flagged", flagged)
    r.add_get("/stations/{id:\\d{1,9}}/edit", station_edit)
    r.add_post("/stations/{id:\\d{1,9}}/edit", station_save)
    r.add_get("/stations/{id:\\d{1,9}}/qr.png", station_qr)
