"""Working days and hours in Asia/Shanghai (models/workdays.py): weekends, holidays, 调休."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from bot.settings import ConfigError, load_settings
from models.workdays import SHANGHAI, BadWorkHours, Calendar, parse_hours

CAL = Calendar()
# 2027: 春节 holidays Fri 5 Feb – Sat 13 Feb (weekdays 5, 8–12 off), 调休 Sun 7 Feb worked.
SPRING = Calendar.of(holidays=[date(2027, 2, 5)] + [date(2027, 2, d) for d in range(8, 13)],
                     workdays=[date(2027, 2, 7)])


def sh(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=SHANGHAI)


def same(a: datetime, b: datetime) -> bool:
    return a.astimezone(UTC) == b.astimezone(UTC) and a.tzinfo is not None


def test_working_days_skip_weekends_and_the_start_day() -> None:
    # Friday 4 December 2026 10:00 + 3 working days: Mon, Tue, Wed → Wednesday 17:30.
    assert same(CAL.add_working_days(sh(2026, 12, 4, 10), 3), sh(2026, 12, 9, 17, 30))
    # From a Saturday: Mon, Tue, Wed.
    assert same(CAL.add_working_days(sh(2026, 11, 28, 10), 3), sh(2026, 12, 2, 17, 30))
    # Late in the evening or just after midnight: the local date counts, not UTC's.
    assert same(CAL.add_working_days(sh(2026, 12, 4, 23, 59), 1), sh(2026, 12, 7, 17, 30))
    assert same(CAL.add_working_days(sh(2026, 12, 5, 0, 1), 1), sh(2026, 12, 7, 17, 30))
    assert same(CAL.add_working_days(sh(2026, 12, 5, 7), 0), sh(2026, 12, 7, 17, 30))
    assert same(CAL.add_working_days(sh(2026, 12, 4, 7), 0), sh(2026, 12, 4, 17, 30))


def test_holidays_off_and_make_up_days_on() -> None:
    assert not SPRING.is_working_day(date(2027, 2, 8)) and SPRING.is_working_day(date(2027, 2, 7))
    assert not SPRING.is_working_day(date(2027, 2, 6))  # a plain Saturday
    # Thursday 4 Feb + 1: Fri 5 is a holiday, Sun 7 is worked (调休).
    assert same(SPRING.add_working_days(sh(2027, 2, 4, 16), 1), sh(2027, 2, 7, 17, 30))
    # + 2: after Sunday 7 the next working day is Monday 15.
    assert same(SPRING.add_working_days(sh(2027, 2, 4, 16), 2), sh(2027, 2, 15, 17, 30))
    assert SPRING.working_days_between(sh(2027, 2, 4, 16), sh(2027, 2, 15, 9)) == 2
    assert SPRING.working_days_between(sh(2027, 2, 15, 9), sh(2027, 2, 4, 16)) == -2
    assert CAL.working_days_between(sh(2026, 12, 4, 9), sh(2026, 12, 4, 18)) == 0
    assert CAL.working_days_between(sh(2026, 12, 4, 9), sh(2026, 12, 11, 9)) == 5


def test_working_hours_count_only_opening_time() -> None:
    # Monday 15:30 + 4 h: 2 h on Monday to 17:30, 2 h on Tuesday from 09:00.
    assert same(CAL.add_working_hours(sh(2026, 12, 7, 15, 30), 4), sh(2026, 12, 8, 11))
    # Ending exactly at closing time stays at closing time.
    assert same(CAL.add_working_hours(sh(2026, 12, 7, 13, 30), 4), sh(2026, 12, 7, 17, 30))
    # Before opening: the clock starts at 09:00; after closing: the next working morning.
    assert same(CAL.add_working_hours(sh(2026, 12, 7, 6), 4), sh(2026, 12, 7, 13))
    assert same(CAL.add_working_hours(sh(2026, 12, 7, 17, 30), 4), sh(2026, 12, 8, 13))
    # Friday evening → Monday; Saturday → Monday.
    assert same(CAL.add_working_hours(sh(2026, 12, 4, 20), 4), sh(2026, 12, 7, 13))
    assert same(CAL.add_working_hours(sh(2026, 11, 28, 10), timedelta(hours=4)),
                sh(2026, 11, 30, 13))
    # More than one working day (8.5 h each): 10 h from Monday 09:00 → Tuesday 10:30.
    assert same(CAL.add_working_hours(sh(2026, 12, 7, 9), 10), sh(2026, 12, 8, 10, 30))
    # Over a holiday week.
    assert same(SPRING.add_working_hours(sh(2027, 2, 4, 16), 4), sh(2027, 2, 7, 11, 30))


def test_deadline_spans_days_then_hours_and_custom_hours() -> None:
    assert same(CAL.add_deadline(sh(2026, 12, 4, 10), timedelta(days=3)), sh(2026, 12, 9, 17, 30))
    assert same(CAL.add_deadline(sh(2026, 12, 7, 10), timedelta(hours=4)), sh(2026, 12, 7, 14))
    # 1 day 4 h: Tuesday 17:30 then 4 working hours → Wednesday 13:00.
    assert same(CAL.add_deadline(sh(2026, 12, 7, 10), timedelta(hours=28)), sh(2026, 12, 9, 13))
    short = Calendar.of(work_hours="08:30-12:00")
    assert short.day_length == timedelta(hours=3, minutes=30)
    assert same(short.add_working_hours(sh(2026, 12, 7, 11), 2), sh(2026, 12, 8, 9, 30))
    assert same(short.add_working_days(sh(2026, 12, 7, 11), 1), sh(2026, 12, 8, 12))


def test_shanghai_keeps_no_daylight_saving_time() -> None:
    # Europe and America change clocks in March and October; Shanghai stays at +8, so a
    # working day is 09:00 local = 01:00 UTC all year round.
    for month in (1, 3, 4, 7, 10, 11):
        end = CAL.add_working_days(datetime(2026, month, 14, 2, tzinfo=UTC), 1)
        assert end.astimezone(UTC).hour == 9 and end.astimezone(UTC).minute == 30
        assert end.astimezone(SHANGHAI).utcoffset() == timedelta(hours=8)


def test_bad_work_hours_and_config_keys() -> None:
    assert parse_hours("9:00-17:30") == parse_hours("09:00-17:30")
    for bad in ("17:30-09:00", "0900-1730", "09:00", "9-5"):
        with pytest.raises(BadWorkHours):
            parse_hours(bad)
    settings = load_settings(None, reports={"holidays": ["2027-01-01"],
                                            "workdays": ["2027-02-07"], "ack_hours": 2})
    cal = settings.reports.calendar()
    assert date(2027, 1, 1) in cal.holidays and cal.is_working_day(date(2027, 2, 7))
    assert settings.reports.ack_hours == 2 and settings.reports.escalate_after_days == 2
    for wrong in ({"work_hours": "18:00-09:00"}, {"ack_hours": 0},
                  {"escalate_after_days": 0}, {"holidays": ["2027-02-30"]},
                  {"holidays": ["2027-01-01"], "workdays": ["2027-01-01"]}):
        with pytest.raises(ConfigError, match="reports"):
            load_settings(None, reports=wrong)
