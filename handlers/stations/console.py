"""驿站 in the console (admin): the list with 30-day check-ins, editing, an all-or-nothing CSV
import, a QR code per station, and the check-ins flagged for review."""

from __future__ import annotations

import asyncio
import csv
import io
import logging
from datetime import timedelta
from typing import Any

from aiohttp import web
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.clock import SHANGHAI
from bot.web.exports import xlsx_response
from bot.web.listing import ListQueryError, list_args, paging, search_text
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
from models.station import by_code as station_by_code
from models.views import stations as views

log = logging.getLogger(__name__)

UPLOAD_MAX_BYTES = 1_000_000


# --- 驿站 -------------------------------------------------------------------------------------

FIELDS = ("name", "address", "lat", "lng", "datum", "radius_m", "hours", "services", "phone")
NEW_FIELDS = ("code", "kind", *FIELDS)
PLACE = ("lat", "lng", "datum")
DATUMS = (("gcj02", "GCJ-02（腾讯、高德地图）"), ("wgs84", "WGS-84（GPS、天地图）"))
# A station-file row every rule accepts: a new station's fields are each judged alone
# against it, so every wrong field is named at once.
BLANK = {"code": "NEW", "kind": KINDS[0], "name": "驿站", "address": "", "lat": "31.7",
         "lng": "119.95", "datum": "gcj02", "radius_m": "", "hours": "24h", "services": "",
         "phone": ""}


CSV_HEADER = ["code", "name", "kind", "address", "lat", "lng", "radius_m", "services", "hours",
              "phone", "active", "checkins_30d"]
STATION_HEADER = ["编号", "名称", "类型", "地址", "纬度", "经度", "半径（米）", "服务", "营业时间",
                  "电话", "启用", "30天签到"]


async def station_list(request: web.Request) -> web.StreamResponse:
    """驿站: searched by name, code or address, filtered by kind and 启用/停用, a page at a
    time; the filtered list as CSV or Excel."""
    require(request, ("admin",))
    q = request.query
    f = {"q": search_text(request), "kind": q.get("kind", ""), "active": q.get("active", "")}
    if f["kind"] not in ("", *KINDS):
        raise ListQueryError("参数 kind 不是驿站的类型。")
    if f["active"] not in ("", "1", "0"):
        raise ListQueryError("参数 active 只能是 1（启用）或 0（停用）。")
    args = list_args(request)
    first = local_day(now(request)) - timedelta(days=29)
    async with sessions(request)() as db:
        if args.export:
            rows, total, flagged = await views.station_list(db, f, first)
        else:
            rows, total, flagged = await views.station_list(db, f, first, args.offset,
                                                            args.size)
    table = [[s.code, s.name, s.kind, s.address, s.lat, s.lng, s.radius_m,
              "、".join(s.services), s.hours_text, s.phone, "是" if s.active else "否", n]
             for s, n in rows]
    if args.export == "csv":  # the station file's own columns: it can be imported again
        return csv_response("驿站.csv", CSV_HEADER, table)
    if args.export == "xlsx":
        return await xlsx_response("驿站.xlsx", [("驿站", STATION_HEADER, table)])
    return await render(request, "stations_list.html", {
        "rows": rows, "f": f, "kinds": KINDS, "flagged": flagged,
        "p": paging("/console/stations", f, args, total)})


async def _station(request: web.Request, db: AsyncSession) -> Station:
    require(request, ("admin",))
    station = await db.get(Station, int(request.match_info["id"]))
    if station is None:
        raise not_found(request)
    return station


def _station_form(s: Station) -> dict[str, str]:
    return {"name": s.name, "address": s.address, "lat": str(s.lat), "lng": str(s.lng),
            "datum": "gcj02", "radius_m": str(s.radius_m), "hours": s.hours_text,
            "services": "、".join(s.services), "phone": s.phone, "active": "1" if s.active else ""}


def _raw(s: Station, form: dict[str, str]) -> dict[str, Any]:
    """A station-file row of the station with the form's values (the import's rules judge
    it): coordinates in the datum the form chose, converted as the import converts them."""
    return {"code": s.code, "kind": s.kind, **{k: form[k] for k in FIELDS}}


WORDS = (("radius_m", "半径"), ("hours: ", "营业时间："), ("name", "名称"), ("code", "编号"),
         ("kind", "类型"), ("datum", "坐标系"))


def _why(field: str, message: str) -> str:
    if message.startswith("缺少"):
        return "必填"
    if message.startswith("address") or message.startswith("phone"):
        return {"address": "地址最长200字", "phone": "电话最长32个字符"}.get(field, message)
    if message.startswith("坐标无效"):
        return "坐标无效：纬度 -90 到 90，经度 -180 到 180，填小数（如 31.709300）"
    for column, name in WORDS:
        message = message.replace(column, name)
    return message


def _check_row(base: dict[str, Any], form: dict[str, str], fields: tuple[str, ...],
               default_radius: int) -> tuple[dict[str, Any] | None, dict[str, str]]:
    """The clean fields of `base` with the form's values, or each field's error (each field
    judged alone against `base`, so every wrong field is named)."""
    errors: dict[str, str] = {}
    for field in fields:
        try:
            imports.clean_row({**base, field: form[field]}, default_radius)
        except imports.BadRow as exc:
            errors[field] = _why(field, str(exc))
    if not form["radius_m"].strip() and "code" not in fields:
        errors["radius_m"] = "必填"
    if errors:
        return None, errors
    try:
        return imports.clean_row({**base, **{k: form[k] for k in fields}}, default_radius), {}
    except imports.BadRow as exc:
        return None, {"form": str(exc)}


def _check_station(s: Station, form: dict[str, str], default_radius: int
                   ) -> tuple[dict[str, Any] | None, dict[str, str]]:
    return _check_row(_raw(s, _station_form(s)), form, FIELDS, default_radius)


def _edit_context(s: Station, form: dict[str, str], errors: dict[str, str], saved: bool
                  ) -> dict[str, Any]:
    return {"s": s, "form": form, "errors": errors, "saved": saved, "datums": DATUMS}


async def station_edit(request: web.Request) -> web.StreamResponse:
    async with sessions(request)() as db:
        station = await _station(request, db)
        saved = request.query.get("saved") == "1"
        return await render(request, "stations_edit.html", _edit_context(
            station, _station_form(station), {}, saved))


async def station_save(request: web.Request) -> web.StreamResponse:
    data = await request.post()
    default_radius = request.app[SETTINGS].checkin.default_radius_m
    async with sessions(request)() as db, db.begin():
        station = await _station(request, db)
        shown = _station_form(station)  # a field the form did not send stays as it is
        form = {k: str(data.get(k, shown[k])).strip()[:300] for k in FIELDS}
        form["active"] = "1" if data.get("active") else ""
        clean, errors = _check_station(station, form, default_radius)
        if clean is None:
            return await render(request, "stations_edit.html", _edit_context(
                station, form, errors, False), 400)
        station.name, station.address = clean["name"], clean["address"]
        station.radius_m, station.phone = clean["radius_m"], clean["phone"]
        station.services, station.hours_text = clean["services"], clean["hours_text"]
        station.hours, station.active = clean["hours"], bool(form["active"])
        if any(form[k] != shown[k] for k in PLACE):  # moved
            station.lat, station.lng = clean["lat"], clean["lng"]  # GCJ-02, converted
            station.source_datum = clean["source_datum"]
        station.updated_at = now(request)
        db.add(station)
        station_id = station.id
    log.info("console: station %s edited", station_id)
    raise web.HTTPSeeOther(f"/console/stations/{station_id}/edit?saved=1")


async def station_new(request: web.Request) -> web.StreamResponse:
    require(request, ("admin",))
    form = {**{k: "" for k in NEW_FIELDS}, "kind": KINDS[0], "datum": "gcj02"}
    return await render(request, "stations_new.html", {
        "form": form, "errors": {}, "kinds": KINDS, "datums": DATUMS})


async def station_create(request: web.Request) -> web.StreamResponse:
    """新增驿站: the row judged by the import's rules (station_import.clean_row), added with
    the import itself, so a station made here is one the file could have made."""
    require(request, ("admin",))
    data = await request.post()
    form = {k: str(data.get(k, "")).strip()[:300] for k in NEW_FIELDS}
    default_radius = request.app[SETTINGS].checkin.default_radius_m
    clean, errors = _check_row(BLANK, form, NEW_FIELDS, default_radius)
    async with sessions(request)() as db, db.begin():
        if clean is not None and await station_by_code(db, clean["code"]) is not None:
            errors = {"code": f"编号 {clean['code']} 已有驿站，请换一个（改已有驿站请用编辑）"}
        if not errors:
            report = await imports.import_stations(db, [(1, form)], default_radius,
                                                   now(request))
            errors = {"form": "；".join(reason for _, reason in report.rejected)
                      } if report.rejected else {}
        if errors:  # nothing was written
            return await render(request, "stations_new.html", {
                "form": form, "errors": errors, "kinds": KINDS, "datums": DATUMS}, 400)
        station = await station_by_code(db, form["code"].upper())
        assert station is not None
        station_id = station.id
    log.info("console: station %s added", station_id)
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
    r.add_get("/stations/new", station_new)
    r.add_post("/stations/new", station_create)
    r.add_get("/stations/{id:\\d{1,9}}/edit", station_edit)
    r.add_post("/stations/{id:\\d{1,9}}/edit", station_save)
    r.add_get("/stations/{id:\\d{1,9}}/qr.png", station_qr)
