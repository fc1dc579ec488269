"""A course as given by an instructor — a row of the course file, or the API's JSON — checked
field by field into CourseData. Every reason names the field, in Chinese. import-courses
upserts a whole file by code, all or nothing.

File format: code,title,instructor,start,end,place,lat,lng,radius_m,online_url,
capacity,hours,audience,status — start/end ISO 8601, Asia/Shanghai unless an offset is given.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from models import course as courses
from models import course_lifecycle as lifecycle
from models import geo
from models.base import SHANGHAI
from models.course import CODE_RE, CourseData, CourseError, CourseTexts, check_audience, validate
from models.errors import BadRow
from models.member import INDUSTRIES

COLUMNS = ["code", "title", "instructor", "start", "end", "place", "lat", "lng", "radius_m",
           "online_url", "capacity", "hours", "audience", "status"]
REQUIRED = ["code", "title", "start", "end", "capacity", "hours"]
# school.reminder_offsets' defaults, for callers that pass none.
DEFAULT_REMINDER_OFFSETS = (timedelta(hours=24), timedelta(hours=1))


def _text(raw: dict[str, Any], key: str) -> str:
    value = raw.get(key)
    return "" if value is None else str(value).strip()


def _time(raw: dict[str, Any], key: str) -> datetime:
    value = raw.get(key)
    if isinstance(value, datetime):  # YAML reads unquoted times as datetimes
        when = value
    else:
        try:
            when = datetime.fromisoformat(_text(raw, key))
        except ValueError:
            raise BadRow(f"{key}「{_text(raw, key)}」不是 ISO 8601 时间，"
                         "如 2026-12-05T19:30") from None
    when = when if when.tzinfo else when.replace(tzinfo=SHANGHAI)
    if not 2000 <= when.year <= 2100:
        raise BadRow(f"{key} 须在 2000–2100 年之间")
    return when


def _number(raw: dict[str, Any], key: str, kind: type[int] | type[float]) -> float:
    value = raw.get(key)
    if isinstance(value, bool):
        raise BadRow(f"{key} 须为数字")
    try:
        number = float(value) if isinstance(value, int | float) else float(_text(raw, key)[:40])
    except ValueError:
        raise BadRow(f"{key}「{_text(raw, key)[:20]}」不是数字") from None
    except OverflowError:
        raise BadRow(f"{key} 的数值太大") from None
    if not math.isfinite(number) or (kind is int and number != int(number)):
        raise BadRow(f"{key} 须为{'整数' if kind is int else '数字'}")
    return number


REASONS = {
    "code": "code 须为2–16位大写字母、数字或 -，以字母或数字开头",
    "title": "title 须为2–60个字",
    "instructor": "instructor 最长40个字",
    "description": f"description 最长{courses.DESCRIPTION_MAX}个字",
    "end_before_start": "end 须晚于 start",
    "too_long": "一节课最长12小时（end 离 start 太远）",
    "online_url": "online_url 须为 http(s) 链接，最长512个字符",
    "where": "线下课要写 place 和 lat/lng，线上课要写 online_url",
    "place": "place 最长120个字",
    "radius": "radius_m 须在 10 到 5000 米之间",
    "capacity": "capacity 须为 1 到 100000 的整数",
    "hours": "hours 须大于 0、不超过 24",
    "status": "status 须为 draft 或 published",
    "audience": f"audience 须为 all、industry:行业（{'、'.join(INDUSTRIES)}）或 group:小组码",
    "past": "start 已经过去，不能新建或改到过去的时间",
    "code_taken": "这个 code 已被占用",
    "cancelled": "课程已取消，不能再修改",
    "unpublish": "已发布的课程不能改回 draft；要停课请取消",
    "ended": "课程已结束",
}


def reason(err: CourseError) -> str:
    return REASONS.get(err.reason, err.reason)


def parse_row(raw: dict[str, Any], default_radius_m: int) -> CourseData:
    """One course from a file row or a JSON object, or BadRow saying what is wrong."""
    if missing := [k for k in REQUIRED if not _text(raw, k)]:
        raise BadRow(f"缺少 {', '.join(missing)}")
    for key in ("code", "title", "instructor", "place", "online_url", "audience", "status",
                "description"):
        if isinstance(raw.get(key), list | dict):
            raise BadRow(f"{key} 须为文字")
    code = _text(raw, "code").upper()
    if not CODE_RE.fullmatch(code):
        raise BadRow(REASONS["code"])
    start, end = _time(raw, "start"), _time(raw, "end")
    point = None
    if _text(raw, "lat") or _text(raw, "lng"):
        try:
            point = geo.check(_number(raw, "lat", float), _number(raw, "lng", float))
        except (BadRow, ValueError, OverflowError):
            raise BadRow(f"坐标无效（lat {_text(raw, 'lat')}, lng {_text(raw, 'lng')}）"
                         ) from None
    radius = int(_number(raw, "radius_m", int)) if _text(raw, "radius_m") else default_radius_m
    capacity = _number(raw, "capacity", int)
    if not 1 <= capacity <= 100_000:
        raise BadRow(REASONS["capacity"])
    data = CourseData(
        code=code, title=_text(raw, "title"), start=start, end=end,
        instructor=_text(raw, "instructor"),
        description=_text(raw, "description") if "description" in raw else None,
        place=_text(raw, "place"), point=point, radius_m=radius,
        online_url=_text(raw, "online_url") or None, capacity=int(capacity),
        hours=_number(raw, "hours", float), audience=_text(raw, "audience") or "all",
        status=(_text(raw, "status") or "published").lower())
    try:
        validate(data)
        check_audience(data.audience)
    except CourseError as err:
        raise BadRow(reason(err)) from None
    return data




@dataclass
class CourseImport:
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    rejected: list[tuple[int, str]] = field(default_factory=list)


async def import_courses(session: AsyncSession, rows: Iterable[tuple[int, dict[str, Any]]],
                         default_radius_m: int, now: datetime, texts: CourseTexts,
                         by: str = "import", *,
                         offsets: Sequence[timedelta] | None = None) -> CourseImport:
    """Upsert the file's courses by code: new codes are created, existing ones updated (a
    moved course tells its enrollees, a publication plans its reminders). All or nothing:
    every row is tried inside a savepoint, and one bad row — broken, a duplicate code, a new
    course already started, a change the course refuses — rolls it all back; then the report
    lists every bad row with its line and nothing else.

    `offsets` are school.reminder_offsets (None: the default ones, 24 h and 1 h)."""
    offsets = DEFAULT_REMINDER_OFFSETS if offsets is None else offsets
    report = CourseImport()
    parsed: list[tuple[int, CourseData]] = []
    seen: dict[str, int] = {}
    for line, raw in rows:
        try:
            data = parse_row(raw, default_radius_m)
        except BadRow as exc:
            report.rejected.append((line, str(exc)))
            continue
        if data.code in seen:
            report.rejected.append((line, f"code {data.code} 与第{seen[data.code]}行重复"))
            continue
        seen[data.code] = line
        parsed.append((line, data))
    savepoint = await session.begin_nested()
    for line, data in parsed:
        c = await courses.by_code(session, data.code, lock=True)
        try:
            if c is None:
                await lifecycle.create(session, data, now, by, offsets=offsets)
                report.added.append(data.code)
            elif await lifecycle.update_course(session, c, data, now, texts, offsets=offsets):
                report.changed.append(data.code)
            else:
                report.unchanged.append(data.code)
        except CourseError as err:
            report.rejected.append((line, f"{data.code}：{reason(err)}"))
    if not report.rejected:
        await savepoint.commit()
        return report
    await savepoint.rollback()
    return CourseImport(rejected=sorted(report.rejected))
