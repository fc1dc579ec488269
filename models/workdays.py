"""Working days and working hours in Asia/Shanghai, as a 12345 hotline counts its limits. Pure.

- A working day is a weekday (Monday–Friday) not in `holidays`, or a weekend day in
  `workdays` (调休补班: the make-up working days of the State Council's holiday notice).
- Working hours are `opens`–`closes` on a working day (default 09:00–17:30, config
  `reports.work_hours`). Shanghai keeps no daylight-saving time, so a local day is always
  24 hours and 09:00 local is always 01:00 UTC.

Counting rules (documented for the console and the digest):

- `add_working_days(start, n)`: the day of `start` is not counted (as a statutory period
  "自…之日起" starts the next day); the limit is the end of working hours (`closes`) on the
  n-th working day after the local date of `start`. 3 working days from a Friday → the
  Wednesday after, 17:30. n = 0: the end of the start's own day if that is a working day
  (else of the next working day).
- `add_working_hours(start, h)`: only time inside working hours on working days counts; a
  start outside them begins at the next opening. A limit that ends exactly at closing time
  stays there (17:30, not the next morning).
- `working_days_between(a, b)`: working days d with local date(a) < d <= local date(b),
  so 0 for the same day, and negative when b is before a.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")
DEFAULT_HOURS = "09:00-17:30"
MAX_DAYS = 3660  # a guard: no loop runs past ten years of days


class BadWorkHours(ValueError):
    """work_hours is not "HH:MM-HH:MM" with the opening before the closing."""


def parse_hours(text: str) -> tuple[time, time]:
    """"09:00-17:30" → (09:00, 17:30); BadWorkHours for anything else."""
    try:
        a, b = (part.strip() for part in text.split("-"))
        opens, closes = _clock(a), _clock(b)
    except ValueError:
        raise BadWorkHours(f"expected working hours such as 09:00-17:30, got {text!r}"
                           ) from None
    if opens >= closes:
        raise BadWorkHours(f"working hours must open before they close, got {text!r}")
    return opens, closes


def _clock(text: str) -> time:
    hours, minutes = text.split(":")
    if not (hours.isdigit() and minutes.isdigit() and len(minutes) == 2 and len(hours) <= 2):
        raise ValueError(text)
    return time(int(hours), int(minutes))


@dataclass(frozen=True)
class Calendar:
    """Which days are worked, and the hours of a working day (local time)."""

    holidays: frozenset[date] = field(default_factory=frozenset)
    workdays: frozenset[date] = field(default_factory=frozenset)  # 调休: worked weekend days
    opens: time = time(9, 0)
    closes: time = time(17, 30)

    @classmethod
    def of(cls, holidays: Iterable[date] = (), workdays: Iterable[date] = (),
           work_hours: str = DEFAULT_HOURS) -> Calendar:
        opens, closes = parse_hours(work_hours)
        return cls(frozenset(holidays), frozenset(workdays), opens, closes)

    @property
    def day_length(self) -> timedelta:
        return _at(date(2000, 1, 3), self.closes) - _at(date(2000, 1, 3), self.opens)

    def is_working_day(self, day: date) -> bool:
        if day in self.workdays:
            return True
        return day.weekday() < 5 and day not in self.holidays

    def next_working_day(self, day: date) -> date:
        """The first working day after `day`."""
        for _ in range(MAX_DAYS):
            day += timedelta(days=1)
            if self.is_working_day(day):
                return day
        raise ValueError("no working day within ten years")

    def add_working_days(self, start: datetime, n: int) -> datetime:
        """The end of working hours on the n-th working day after start's local date (UTC)."""
        day = local_date(start)
        if n <= 0:
            if not self.is_working_day(day):
                day = self.next_working_day(day)
            return _at(day, self.closes)
        for _ in range(n):
            day = self.next_working_day(day)
        return _at(day, self.closes)

    def add_working_hours(self, start: datetime, hours: float | timedelta) -> datetime:
        """`start` plus this much working time (UTC)."""
        left = hours if isinstance(hours, timedelta) else timedelta(hours=hours)
        local = start.astimezone(SHANGHAI)
        day = local.date()
        if not self.is_working_day(day) or local.time() >= self.closes:
            day = self.next_working_day(day)
            cursor = _at(day, self.opens)
        else:
            cursor = max(start.astimezone(UTC), _at(day, self.opens))
        for _ in range(MAX_DAYS):
            closing = _at(day, self.closes)
            if cursor + left <= closing:
                return cursor + left
            left -= closing - cursor
            day = self.next_working_day(day)
            cursor = _at(day, self.opens)
        raise ValueError("no end within ten years")

    def add_deadline(self, start: datetime, span: timedelta) -> datetime:
        """A category's deadline (`deadline: 3d`): whole days count working days, what is
        left of a day counts working hours after them (`36h` = 1 working day + 12 working
        hours; `4h` = 4 working hours)."""
        whole, rest = span.days, span - timedelta(days=span.days)
        end = self.add_working_days(start, whole) if whole else start
        return self.add_working_hours(end, rest) if rest else end

    def working_days_between(self, a: datetime, b: datetime) -> int:
        """Working days d with local date(a) < d <= local date(b) (negative if b < a)."""
        da, db = local_date(a), local_date(b)
        sign = 1
        if db < da:
            da, db, sign = db, da, -1
        span = (db - da).days
        if span > MAX_DAYS:
            raise ValueError("more than ten years apart")
        return sign * sum(1 for i in range(1, span + 1)
                          if self.is_working_day(da + timedelta(days=i)))


def local_date(at: datetime) -> date:
    return at.astimezone(SHANGHAI).date()


def _at(day: date, t: time) -> datetime:
    """The UTC instant of local time `t` on local `day` (Shanghai has no DST: always +8)."""
    return datetime.combine(day, t, tzinfo=SHANGHAI).astimezone(UTC)
