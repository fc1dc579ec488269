"""The dashboard's drawings, worked out here so the template only places them: the daily
check-ins as columns (laptop) and as rows (phone), each with an axis and its tick values,
and the rates graded against their targets (a word beside the colour, never colour alone).

Each drawing is sized for the width it is shown at (console.css shows one of the two), so
one SVG unit is about one CSS pixel and 12-unit text reads as 12 px on both; every label
is placed inside its drawing's box.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from bot.web.charts import WARN_BELOW, Grade, grade, ticks_for  # noqa: F401  (shared rules)

# The laptop's columns and the phone's rows: the box, and where the plot sits inside it.
WIDE_W, WIDE_H, WIDE_LEFT, WIDE_RIGHT, WIDE_TOP, WIDE_BASE = 800, 236, 46, 10, 24, 200
TALL_W, TALL_LEFT, TALL_RIGHT, TALL_TOP, TALL_ROW = 340, 48, 44, 8, 16


@dataclass(frozen=True)
class Tick:
    value: int
    at: float  # x on the phone's axis, y on the laptop's


@dataclass(frozen=True)
class Bar:
    day: date
    n: int
    label: str  # 12/7
    x: float
    y: float
    w: float
    h: float
    text_x: float  # where its value is written
    text_y: float
    axis_label: bool  # the laptop writes every fifth day and the last


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    left: float
    right: float  # x where the plot ends
    top: float
    base: float  # the laptop's baseline; the phone's bottom axis
    ticks: list[Tick]
    bars: list[Bar]
    small: bool  # four-digit values: the laptop writes them smaller


def _label(day: date) -> str:
    return f"{day.month}/{day.day}"


def columns(days: list[tuple[date, int]]) -> Chart:
    """The laptop's chart: a column a day, a value axis on the left."""
    top_value, values = ticks_for(max((n for _, n in days), default=0))
    height = WIDE_BASE - WIDE_TOP
    slot = (WIDE_W - WIDE_LEFT - WIDE_RIGHT) / max(len(days), 1)
    bars = []
    for i, (day, n) in enumerate(days):
        h = round(n / top_value * height, 1)
        x = WIDE_LEFT + i * slot
        bars.append(Bar(day, n, _label(day), round(x + 3, 1), round(WIDE_BASE - h, 1),
                        round(slot - 6, 1), h, round(x + slot / 2, 1),
                        round(WIDE_BASE - h - 5, 1), i % 5 == 0 or i == len(days) - 1))
    ticks = [Tick(v, round(WIDE_BASE - v / top_value * height, 1)) for v in values]
    return Chart(WIDE_W, WIDE_H, WIDE_LEFT, WIDE_W - WIDE_RIGHT, WIDE_TOP, WIDE_BASE, ticks,
                 bars, small=top_value >= 1000)


def rows(days: list[tuple[date, int]]) -> Chart:
    """The phone's chart: a row a day (newest last), a value axis along the bottom, the
    value written after each bar in the room kept free on the right."""
    top_value, values = ticks_for(max((n for _, n in days), default=0))
    right = TALL_W - TALL_RIGHT
    length = right - TALL_LEFT
    base = TALL_TOP + len(days) * TALL_ROW
    bars = []
    for i, (day, n) in enumerate(days):
        w = round(n / top_value * length, 1)
        y = TALL_TOP + i * TALL_ROW
        bars.append(Bar(day, n, _label(day), TALL_LEFT, y + 3, w, TALL_ROW - 6,
                        round(TALL_LEFT + w + 4, 1), y + TALL_ROW - 4, True))
    ticks = [Tick(v, round(TALL_LEFT + v / top_value * length, 1)) for v in values]
    return Chart(TALL_W, base + 28, TALL_LEFT, right, TALL_TOP, base, ticks, bars,
                 small=False)

