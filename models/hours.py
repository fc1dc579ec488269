"""Opening hours: '24h', '08:00-20:00' (daily), or per weekday
'一至五 08:00-18:00；六日 09:00-17:00'. Days not named are closed days."""

from __future__ import annotations

import re
from datetime import datetime

# Monday = 0, as datetime.weekday().
_DAYS = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6}
_RANGE = re.compile(r"^(\d{1,2}):(\d{2})\s*[-–~至]\s*(\d{1,2}):(\d{2})$")
ALL_DAY = "24h"

# {weekday: [(start_minute, end_minute), …]}; end may pass midnight (end > 1440).
Hours = dict[int, list[tuple[int, int]]]


class BadHours(ValueError):
    """Hours that cannot be read; the message says how to write them."""


def _range(text: str) -> tuple[int, int]:
    m = _RANGE.match(text.strip())
    if not m:
        raise BadHours(f"时间段「{text}」应写成 08:00-18:00")
    h1, m1, h2, m2 = (int(g) for g in m.groups())
    if h1 > 24 or h2 > 24 or m1 > 59 or m2 > 59:
        raise BadHours(f"时间「{text}」不存在")
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if end == start:
        raise BadHours(f"时间段「{text}」开始和结束相同")
    return start, end if end > start else end + 1440  # past midnight


def _days(spec: str) -> list[int]:
    spec = spec.strip().removeprefix("周").removeprefix("星期")
    if spec in ("每天", "每日", "全周"):
        return list(range(7))
    if m := re.fullmatch(r"(.)[至到\-~](.)", spec):
        a, b = (_DAYS.get(c) for c in m.groups())
        if a is None or b is None or b < a:
            raise BadHours(f"星期「{spec}」应写成 一至五")
        return list(range(a, b + 1))
    days = [_DAYS.get(c) for c in spec if c not in "、, "]
    if not days or None in days:
        raise BadHours(f"星期「{spec}」应写成 一至五、六日 或 每天")
    return [d for d in days if d is not None]


def parse(text: str | None) -> Hours:
    if text is None or not text.strip():
        raise BadHours(
            "缺少营业时间（写 24h、08:00-20:00，或 一至五 08:00-18:00；六日 09:00-17:00）")
    text = text.strip()
    if text.lower() in (ALL_DAY, "24小时", "全天"):
        return {d: [(0, 1440)] for d in range(7)}
    if _RANGE.match(text):
        r = _range(text)
        return {d: [r] for d in range(7)}
    hours: Hours = {}
    for part in re.split(r"[；;]", text):
        if not part.strip():
            continue
        pieces = part.strip().split()
        if len(pieces) != 2:
            raise BadHours(f"「{part.strip()}」应写成 星期 时间段，如 一至五 08:00-18:00")
        for day in _days(pieces[0]):
            hours.setdefault(day, []).append(_range(pieces[1]))
    return hours


def to_json(hours: Hours) -> dict[str, list[list[int]]]:
    return {str(d): [list(r) for r in ranges] for d, ranges in hours.items()}


def from_json(data: dict[str, list[list[int]]]) -> Hours:
    return {int(d): [(r[0], r[1]) for r in ranges] for d, ranges in data.items()}


def is_open(hours: Hours, local_now: datetime) -> bool:
    minute = local_now.hour * 60 + local_now.minute
    today = local_now.weekday()
    yesterday = (today - 1) % 7
    if any(s <= minute < e for s, e in hours.get(today, [])):
        return True
    # A range of yesterday that runs past midnight.
    return any(e > 1440 and minute < e - 1440 for _, e in hours.get(yesterday, []))


def _hm(minute: int) -> str:
    minute %= 1440
    return f"{minute // 60:02d}:{minute % 60:02d}"


def today_text(hours: Hours, local_now: datetime) -> str:
    ranges = hours.get(local_now.weekday(), [])
    if ranges == [(0, 1440)]:
        return "24小时"
    if not ranges:
        return "今日休息"
    return "今日 " + "、".join(f"{_hm(s)}-{'次日' if e > 1440 else ''}{_hm(e)}"
                              for s, e in ranges)
