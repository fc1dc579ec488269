"""The arithmetic of the 「数据」 page (models/report_numbers.py reads the rows): months in
Asia/Shanghai, working time between two instants, percentiles, and one group's counts with
its rates. Pure: no database, no clock, so every edge case is a unit test.

The definitions (the page writes them out in words, bot/texts/numbers.py):

- A report counts for a month when it was made (created_at) in that calendar month in
  Asia/Shanghai; its state is the one it has now.
- 办结率 = 已办结 ÷ (全部上报 − 重复关闭); 重复关闭 = 已关闭 as 重复, merged (合并) ones too.
- 满意率 = 4–5 星 ÷ 全部评价 (the reports rated now; the latest rating of each).
- 按时办结率 = 已办结 by due_at (the deadline, approved 延期 included) ÷ 已办结.
- 重新打开占比 = reopened at least once ÷ resolved at least once (已办结 now, or reopened).
- 签收用时: 派单 → 签收 in working hours; 办结用时: 上报 → 已办结 in working days (working
  hours ÷ the hours of a working day), both counted as models/workdays.py counts them.
- A rate with nothing to divide by is None (shown 暂无数据), never a division by zero.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta

from models.workdays import SHANGHAI, Calendar

MONTH_RE = re.compile(r"^(\d{4})-(\d{2})$")
YEARS = (2000, 2100)  # a month outside them is refused
TREND_MONTHS = 12


class BadMonth(ValueError):
    """Not a month written YYYY-MM between the years 2000 and 2100."""


@dataclass(frozen=True, order=True)
class Month:
    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> Month:
        found = MONTH_RE.match(text.strip())
        if not found:
            raise BadMonth(text)
        year, month = int(found.group(1)), int(found.group(2))
        if not (YEARS[0] <= year <= YEARS[1] and 1 <= month <= 12):
            raise BadMonth(text)
        return cls(year, month)

    @classmethod
    def of(cls, at: datetime) -> Month:
        """The Shanghai month of an instant."""
        local = at.astimezone(SHANGHAI)
        return cls(local.year, local.month)

    def shift(self, n: int) -> Month:
        index = self.year * 12 + self.month - 1 + n
        return Month(index // 12, index % 12 + 1)

    def last(self, n: int = TREND_MONTHS) -> list[Month]:
        """The n months ending with this one, oldest first."""
        return [self.shift(i) for i in range(1 - n, 1)]

    @property
    def start(self) -> datetime:
        """Midnight of its first day in Shanghai, as UTC."""
        return datetime(self.year, self.month, 1, tzinfo=SHANGHAI).astimezone(UTC)

    @property
    def end(self) -> datetime:
        """Midnight of the next month's first day in Shanghai, as UTC (exclusive)."""
        return self.shift(1).start

    @property
    def key(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def label(self) -> str:
        return f"{self.year}年{self.month:02d}月"

    @property
    def short(self) -> str:
        """A chart's axis label: 2026.11."""
        return f"{self.year}.{self.month:02d}"


# --- working time --------------------------------------------------------------------------


def working_hours_between(cal: Calendar, a: datetime, b: datetime) -> float:
    """The working time from a to b in hours: only the part inside working hours on
    working days counts (0 when b is not after a)."""
    if b <= a:
        return 0.0
    la, lb = a.astimezone(SHANGHAI), b.astimezone(SHANGHAI)
    total = timedelta()
    day = la.date()
    while day <= lb.date():
        if cal.is_working_day(day):
            opens = datetime.combine(day, cal.opens, tzinfo=SHANGHAI)
            closes = datetime.combine(day, cal.closes, tzinfo=SHANGHAI)
            start, end = max(opens, la), min(closes, lb)
            if end > start:
                total += end - start
        day += timedelta(days=1)
    return total.total_seconds() / 3600


def working_days_between(cal: Calendar, a: datetime, b: datetime) -> float:
    """The working time from a to b in working days: working hours ÷ a working day's hours."""
    return working_hours_between(cal, a, b) / (cal.day_length.total_seconds() / 3600)


def days_overdue(cal: Calendar, due_at: datetime, now: datetime) -> int:
    """Whole working days past the deadline (models/workdays.py: the deadline's own day is
    not counted), 0 when it is not past."""
    return max(0, cal.working_days_between(due_at, now)) if now > due_at else 0


# --- percentiles and rates -----------------------------------------------------------------


def percentile(values: Iterable[float], p: float) -> float | None:
    """The p-th percentile (0–100) by linear interpolation between the closest ranks (as
    Excel's PERCENTILE.INC); None for no values."""
    ordered = sorted(values)
    if not ordered:
        return None
    if not 0 <= p <= 100:
        raise ValueError(f"percentile {p} outside 0–100")
    rank = (len(ordered) - 1) * p / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def rate(part: int, whole: int) -> float | None:
    """part ÷ whole, or None when whole is 0 (暂无数据)."""
    return part / whole if whole > 0 else None


@dataclass(frozen=True)
class Spread:
    """Median and 90th percentile of some durations, and how many there were."""

    n: int
    median: float | None
    p90: float | None

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread:
        return cls(len(values), percentile(values, 50), percentile(values, 90))


@dataclass
class Tally:
    """One group's counts (reports made in the period, in their state now)."""

    reports: int = 0  # 全部上报
    duplicates: int = 0  # 已关闭 as 重复 (merged included): out of 办结率's denominator
    resolved: int = 0  # 已办结
    on_time: int = 0  # 已办结 by due_at
    closed: int = 0  # 已关闭 for another reason (非职责范围, 无法处理)
    open: int = 0  # 已受理, 已派单, 处理中
    overdue_open: int = 0  # open, past due_at now
    rated: int = 0  # reports with a rating
    satisfied: int = 0  # rated 4–5
    reopened: int = 0  # reopened at least once
    ever_resolved: int = 0  # 已办结 now, or reopened (so resolved once)
    escalated: int = 0  # 督办 at least once (a 督办 event)
    ack_hours: list[float] = field(default_factory=list)
    resolve_days: list[float] = field(default_factory=list)

    def add(self, other: Tally) -> Tally:
        """This tally with another's counts and durations added (in place; returns self)."""
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))
        return self

    @property
    def counted(self) -> int:
        """办结率's denominator: every report but the duplicates."""
        return self.reports - self.duplicates

    @property
    def resolution_rate(self) -> float | None:
        return rate(self.resolved, self.counted)

    @property
    def satisfaction_rate(self) -> float | None:
        return rate(self.satisfied, self.rated)

    @property
    def on_time_rate(self) -> float | None:
        return rate(self.on_time, self.resolved)

    @property
    def reopen_share(self) -> float | None:
        return rate(self.reopened, self.ever_resolved)

    @property
    def ack(self) -> Spread:
        return Spread.of(self.ack_hours)

    @property
    def resolve(self) -> Spread:
        return Spread.of(self.resolve_days)


def total(tallies: Iterable[Tally]) -> Tally:
    out = Tally()
    for t in tallies:
        out.add(t)
    return out
