"""The 「数据」 page's arithmetic (models/report_rates.py): months in Asia/Shanghai, working
time between two instants, percentiles, rates with nothing to divide by, and the charts'
layout (bot/web/charts.py) keeping every label inside its drawing."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from bot.web import charts
from models.report_rates import (
    BadMonth,
    Month,
    Spread,
    Tally,
    days_overdue,
    percentile,
    rate,
    total,
    working_days_between,
    working_hours_between,
)
from models.workdays import SHANGHAI, Calendar

CAL = Calendar()
# 2027: 春节 holidays Fri 5 Feb and Mon–Fri 8–12 Feb, 调休 Sunday 7 Feb worked.
SPRING = Calendar.of(holidays=[date(2027, 2, 5)] + [date(2027, 2, d) for d in range(8, 13)],
                     workdays=[date(2027, 2, 7)])


def sh(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=SHANGHAI)


def test_a_month_is_a_shanghai_calendar_month() -> None:
    m = Month.parse("2026-12")
    assert m.start == datetime(2026, 11, 30, 16, 0, tzinfo=UTC)  # 1 Dec 00:00 in Wujin
    assert m.end == datetime(2026, 12, 31, 16, 0, tzinfo=UTC)
    assert (m.key, m.label, m.short) == ("2026-12", "2026年12月", "2026.12")
    # 30 Nov 17:00 UTC is already 1 December in Shanghai
    assert Month.of(datetime(2026, 11, 30, 17, 0, tzinfo=UTC)) == m
    assert m.shift(1) == Month(2027, 1) and m.shift(-12) == Month(2025, 12)
    last = m.last()
    assert len(last) == 12 and last[0] == Month(2026, 1) and last[-1] == m
    for bad in ("2026-13", "2026-00", "26-11", "2026/11", "1999-12", "2101-01", "", "abc"):
        with pytest.raises(BadMonth):
            Month.parse(bad)


def test_working_hours_count_only_working_time() -> None:
    # Inside one working day
    assert working_hours_between(CAL, sh(2026, 12, 1, 10), sh(2026, 12, 1, 14)) == 4
    # Friday 16:00 → Monday 10:00: 1.5 h on Friday, 1 h on Monday
    assert working_hours_between(CAL, sh(2026, 12, 4, 16), sh(2026, 12, 7, 10)) == 2.5
    # Filed on a Saturday, acknowledged Monday 09:30: half an hour
    assert working_hours_between(CAL, sh(2026, 11, 28, 10), sh(2026, 11, 30, 9, 30)) == 0.5
    # At night, nothing; backwards or equal, nothing
    assert working_hours_between(CAL, sh(2026, 12, 1, 18), sh(2026, 12, 1, 23)) == 0
    assert working_hours_between(CAL, sh(2026, 12, 1, 14), sh(2026, 12, 1, 10)) == 0
    assert working_hours_between(CAL, sh(2026, 12, 1, 10), sh(2026, 12, 1, 10)) == 0
    # 春节: Thursday 4 Feb 09:00 → Monday 15 Feb 09:00: Thu (8.5) + 调休 Sunday (8.5)
    assert working_hours_between(SPRING, sh(2027, 2, 4, 9), sh(2027, 2, 15, 9)) == 17
    # In working days: a week (Mon 09:00 → next Mon 09:00) is five
    assert working_days_between(CAL, sh(2026, 11, 30, 9), sh(2026, 12, 7, 9)) == 5
    assert working_days_between(CAL, sh(2026, 11, 30, 9), sh(2026, 11, 30, 13, 15)) == 0.5


def test_days_overdue_are_whole_working_days_after_the_deadline() -> None:
    due = sh(2026, 12, 2, 17, 30)  # Wednesday
    assert days_overdue(CAL, due, sh(2026, 12, 2, 17, 0)) == 0  # not yet due
    assert days_overdue(CAL, due, sh(2026, 12, 2, 20, 0)) == 0  # past, same day
    assert days_overdue(CAL, due, sh(2026, 12, 4, 10)) == 2
    assert days_overdue(CAL, due, sh(2026, 12, 7, 10)) == 3  # the weekend does not count


def test_percentiles_interpolate_between_ranks() -> None:
    assert percentile([], 50) is None
    assert percentile([7.0], 50) == 7 and percentile([7.0], 90) == 7
    assert percentile([1, 2, 3, 4], 50) == 2.5
    assert percentile([4, 1, 3, 2], 50) == 2.5  # order does not matter
    assert percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 90) == pytest.approx(9.1)
    assert percentile([1, 2, 3], 0) == 1 and percentile([1, 2, 3], 100) == 3
    with pytest.raises(ValueError):
        percentile([1.0], 101)
    spread = Spread.of([2.0, 4.0, 6.0])
    assert (spread.n, spread.median, spread.p90) == (3, 4.0, pytest.approx(5.6))
    assert Spread.of([]) == Spread(0, None, None)


def test_rates_never_divide_by_zero() -> None:
    assert rate(0, 0) is None and rate(3, 0) is None and rate(1, 4) == 0.25
    empty = Tally()
    assert empty.resolution_rate is None and empty.satisfaction_rate is None
    assert empty.on_time_rate is None and empty.reopen_share is None
    assert empty.ack == Spread(0, None, None)
    # Only duplicates: nothing left to resolve
    assert Tally(reports=2, duplicates=2).resolution_rate is None
    t = Tally(reports=10, duplicates=2, resolved=6, on_time=3, rated=4, satisfied=3,
              reopened=1, ever_resolved=7, ack_hours=[1.0, 3.0], resolve_days=[2.0])
    assert t.counted == 8 and t.resolution_rate == 0.75
    assert t.satisfaction_rate == 0.75 and t.on_time_rate == 0.5
    assert t.reopen_share == pytest.approx(1 / 7)
    both = total([t, Tally(reports=2, resolved=2, ever_resolved=2, ack_hours=[5.0])])
    assert both.reports == 12 and both.resolved == 8 and both.counted == 10
    assert both.ack_hours == [1.0, 3.0, 5.0] and both.ack.median == 3.0
    assert t.ack_hours == [1.0, 3.0]  # the parts are left as they were


def test_grades_are_green_only_at_the_target() -> None:
    assert charts.grade(None, 0.98).word == "暂无数据"
    assert (charts.grade(0.98, 0.98).tone, charts.grade(0.98, 0.98).word) == ("good", "达标")
    assert (charts.grade(0.97, 0.98).tone, charts.grade(0.97, 0.98).word) == ("warn", "未达标")
    assert charts.grade(0.5, 1.0).tone == "bad"


def _inside(series: charts.Series) -> None:
    for p in series.points:
        assert 0 <= p.x <= series.width and 0 <= p.y <= series.height
        assert 0 <= p.text_x <= series.width and 12 <= p.text_y <= series.height
    for m in series.ticks:
        assert 0 <= m.at <= max(series.width, series.height)


def test_trend_layouts_keep_their_points_in_the_box() -> None:
    months = [(m.short, v) for m, v in zip(Month(2026, 12).last(), [
        None, 0.5, 1.0, 0.0, None, 0.98, 0.75, 1.0, 0.2, 0.9, 0.99, 1.0], strict=True)]
    wide = charts.columns(months, percent=True, target=0.98)
    assert [m.text for m in wide.ticks] == ["0%", "25%", "50%", "75%", "100%"]
    assert wide.line and len(wide.segments) == 2  # the line breaks where there is no data
    assert wide.points[2].y == wide.top and wide.points[3].y == wide.base
    assert wide.target is not None and wide.target.text == "98.0%"
    tall = charts.rows(months, percent=True, target=0.98)
    assert tall.points[0].text == "—" and tall.points[2].text == "100.0%"
    for s in (wide, tall):
        _inside(s)
    counts = charts.columns([("2026.11", 0.0), ("2026.12", 37.0)])
    assert [m.text for m in counts.ticks][-1] == "40" and not counts.line
    assert charts.columns([("2026.12", 0.0)]).empty
    _inside(counts)
    _inside(charts.rows([("2026.11", 1234.0)]))
