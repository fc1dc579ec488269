"""Console charts, worked out in Python so a template only places them: round tick values,
rates graded against their targets (a word beside the colour, never colour alone), and a
series over time (a month a point) drawn twice — columns or a line on a laptop, rows on a
phone (console.css shows `.chart.wide` or `.chart.tall`).

Each drawing is sized for the width it is shown at, so one SVG unit is about one CSS pixel
and 12-unit text reads as 12 px on both, and every label is placed inside its drawing's box
(tests/console/test_phone_width.py measures it). handlers/staff/charts.py draws the
dashboard's daily check-ins with the same rules.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

WARN_BELOW = 0.10  # further below its target than this a rate is red, not amber
# The laptop's drawing of a series, and where the plot sits inside it.
WIDE_W, WIDE_H, WIDE_LEFT, WIDE_RIGHT, WIDE_TOP, WIDE_BASE = 800, 236, 52, 12, 26, 200
# The phone's: a row a point, the value written after its bar in the room kept on the right.
TALL_W, TALL_LEFT, TALL_RIGHT, TALL_TOP, TALL_ROW = 340, 60, 50, 8, 18
PERCENT_TICKS = (0, 25, 50, 75, 100)


def ticks_for(peak: int, count: int = 4) -> tuple[int, list[int]]:
    """A round step and the tick values from 0 to the first multiple at or above `peak`."""
    rough = max(peak, 1) / count
    power = 10 ** math.floor(math.log10(rough)) if rough >= 1 else 1
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= rough)
    top = max(step, math.ceil(peak / step) * step)
    return top, list(range(0, top + 1, step))


@dataclass(frozen=True)
class Grade:
    tone: str  # good, warn, bad, or "" when there is nothing to grade
    word: str  # 达标 / 未达标 / 暂无数据
    target: str  # 100%


def grade(rate: float | None, target: float) -> Grade:
    """A rate against its target: green (达标) only at or above it; amber just below, red
    more than WARN_BELOW below (both 未达标)."""
    shown = f"{target * 100:g}%"
    if rate is None:
        return Grade("", "暂无数据", shown)
    if rate >= target - 1e-9:
        return Grade("good", "达标", shown)
    return Grade("warn" if rate >= target - WARN_BELOW else "bad", "未达标", shown)


def percent_text(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


@dataclass(frozen=True)
class Mark:
    text: str  # a tick's value as written
    at: float  # y on the laptop's value axis, x on the phone's


@dataclass(frozen=True)
class Point:
    label: str  # the axis label (2026.11)
    value: float | None  # None: nothing to draw (暂无数据)
    text: str  # the value as written (95.0%, 12, —)
    x: float  # the laptop: the slot's centre; the phone: where the bar starts
    y: float  # the laptop: the value's height; the phone: the row's top
    w: float  # the bar's width (a column's, or a row's length)
    h: float  # the bar's height
    text_x: float
    text_y: float


@dataclass(frozen=True)
class Series:
    width: int
    height: int
    left: float
    right: float
    top: float
    base: float  # the laptop's baseline; the phone's bottom axis
    ticks: list[Mark]
    points: list[Point]
    line: bool  # a line through the points (rates), else bars (counts)
    segments: list[str]  # the line's runs of drawn points, as SVG polyline points
    target: Mark | None  # where the target's dashed line runs, and its value

    @property
    def empty(self) -> bool:
        return all(p.value is None or p.value == 0 for p in self.points)


def _scale(values: Sequence[float | None], percent: bool) -> tuple[float, list[Mark]]:
    """The axis's top value and its ticks (as fractions of the top, with their words)."""
    if percent:
        return 1.0, [Mark(f"{v}%", v / 100) for v in PERCENT_TICKS]
    top, ticks = ticks_for(math.ceil(max((v or 0 for v in values), default=0)))
    return float(top), [Mark(str(v), v / top) for v in ticks]


def _text(value: float | None, percent: bool) -> str:
    if value is None:
        return "—"
    return percent_text(value) if percent else f"{value:g}"


def _runs(points: list[Point]) -> list[str]:
    runs: list[list[Point]] = [[]]
    for p in points:
        if p.value is None:
            runs.append([])
        else:
            runs[-1].append(p)
    return [" ".join(f"{p.x},{p.y}" for p in run) for run in runs if run]


def columns(series: Sequence[tuple[str, float | None]], percent: bool = False,
            target: float | None = None) -> Series:
    """The laptop's drawing: a slot a point, a value axis on the left; a rate is a line
    through its points (with the target dashed across), a count a column; every value
    written over its point or column."""
    top_value, marks = _scale([v for _, v in series], percent)
    height = WIDE_BASE - WIDE_TOP
    slot = (WIDE_W - WIDE_LEFT - WIDE_RIGHT) / max(len(series), 1)

    def y_of(value: float) -> float:
        return round(WIDE_BASE - min(value, top_value) / top_value * height, 1)

    points = []
    for i, (label, value) in enumerate(series):
        centre = round(WIDE_LEFT + (i + 0.5) * slot, 1)
        y = y_of(value or 0)
        points.append(Point(label, value, _text(value, percent), centre, y,
                            round(slot * 0.6, 1), round(WIDE_BASE - y, 1), centre,
                            round(y - (9 if percent else 5), 1)))
    ticks = [Mark(m.text, y_of(m.at * top_value)) for m in marks]
    line_target = Mark(percent_text(target), y_of(target)) if target is not None else None
    return Series(WIDE_W, WIDE_H, WIDE_LEFT, WIDE_W - WIDE_RIGHT, WIDE_TOP, WIDE_BASE, ticks,
                  points, percent, _runs(points) if percent else [], line_target)


def rows(series: Sequence[tuple[str, float | None]], percent: bool = False,
         target: float | None = None) -> Series:
    """The phone's drawing: a row a point (oldest first), a value axis along the bottom, the
    value written after each bar; the target dashed down the rows."""
    top_value, marks = _scale([v for _, v in series], percent)
    right = TALL_W - TALL_RIGHT
    length = right - TALL_LEFT
    base = TALL_TOP + len(series) * TALL_ROW

    def x_of(value: float) -> float:
        return round(TALL_LEFT + min(value, top_value) / top_value * length, 1)

    points = []
    for i, (label, value) in enumerate(series):
        y = TALL_TOP + i * TALL_ROW
        w = round(x_of(value or 0) - TALL_LEFT, 1)
        points.append(Point(label, value, _text(value, percent), TALL_LEFT, y + 3, w,
                            TALL_ROW - 6, round(TALL_LEFT + w + 4, 1), y + TALL_ROW - 5))
    ticks = [Mark(m.text, x_of(m.at * top_value)) for m in marks]
    line_target = Mark(percent_text(target), x_of(target)) if target is not None else None
    return Series(TALL_W, base + 26, TALL_LEFT, right, TALL_TOP, base, ticks, points, False,
                  [], line_target)
