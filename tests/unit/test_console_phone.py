"""The phone's card tables (bot/web/cards.py) and the dashboard's drawings and grades
(handlers/staff/charts.py), without a browser (tests/console/test_phone_width.py looks at
them in one)."""

from __future__ import annotations

from datetime import date, timedelta

from bot.settings import Settings
from bot.web.cards import label_tables
from handlers.staff import charts


def test_a_list_table_gets_its_headers_on_each_cell() -> None:
    page = ('<table class="list wide"><thead><tr><th>单号</th><th class="num">附议 &amp; 人</th>'
            '<th colspan="2">操作</th><th></th></tr></thead><tbody>'
            '<tr><td class="what"><a href="/x">R1</a></td><td class="num">2</td>'
            '<td>a</td><td>b</td><td>c</td></tr></tbody></table>')
    out = label_tables(page)
    assert '<table class="list wide cards">' in out
    assert '<td data-label="单号" class="what"><a href="/x">R1</a></td>' in out
    assert '<td data-label="附议 &amp; 人" class="num">2</td>' in out
    assert out.count('data-label="操作"') == 2  # a header spanning two columns
    assert "<td>c</td>" in out  # an empty header labels nothing
    assert "<thead><tr><th>单号</th>" in out  # the header itself is left alone


def test_tables_without_a_header_or_kept_stay_as_they_are() -> None:
    facts = '<table class="list facts"><tbody><tr><th>类别</th><td>路灯</td></tr></tbody></table>'
    kept = ('<table class="list keep"><thead><tr><th>日期</th></tr></thead>'
            '<tbody><tr><td>1</td></tr></tbody></table>')
    other = '<table class="grid"><thead><tr><th>A</th></tr></thead><tbody><tr><td>1</td></tr>'
    for page in (facts, kept, other + "</tbody></table>"):
        assert label_tables(page) == page


def test_text_typed_by_users_cannot_make_cells() -> None:
    page = ('<table class="list"><thead><tr><th>标题</th></tr></thead><tbody>'
            '<tr><td>&lt;td&gt;x&lt;/td&gt;</td></tr></tbody></table>')
    assert label_tables(page).count("data-label") == 1


def test_ticks_are_round_and_reach_the_peak() -> None:
    assert charts.ticks_for(0) == (1, [0, 1])
    assert charts.ticks_for(3) == (3, [0, 1, 2, 3])
    assert charts.ticks_for(7) == (8, [0, 2, 4, 6, 8])
    assert charts.ticks_for(37) == (40, [0, 10, 20, 30, 40])
    assert charts.ticks_for(1234) == (1500, [0, 500, 1000, 1500])


def _days(values: list[int]) -> list[tuple[date, int]]:
    first = date(2026, 11, 8)
    return [(first + timedelta(days=i), n) for i, n in enumerate(values)]


def test_every_label_is_placed_inside_both_drawings() -> None:
    for values in ([0] * 30, [9999] * 30, [i * 37 for i in range(30)], [5] + [0] * 29):
        wide, tall = charts.columns(_days(values)), charts.rows(_days(values))
        assert wide.ticks[-1].value >= max(values) and tall.ticks[-1].value >= max(values)
        for bar in wide.bars:  # a value above its column, at most 4 digits of 11 px
            assert bar.y >= 0 and bar.y + bar.h == wide.base
            assert bar.text_y - 11 >= 0 and bar.text_x - 14 >= 0
            assert bar.text_x + 14 <= wide.width
        assert wide.base + 20 <= wide.height and sum(b.axis_label for b in wide.bars) == 7
        for bar in tall.bars:  # a value after its row, in the room kept on the right
            assert bar.x + bar.w <= tall.right
            assert bar.text_x + 4 * 7 <= tall.width
        assert tall.base + 18 <= tall.height


def test_a_rate_is_green_only_at_its_target() -> None:
    targets = Settings().console.targets
    assert (targets.resolution_rate, targets.satisfaction_rate) == (1.0, 0.98)
    assert charts.grade(1.0, 1.0) == charts.Grade("good", "达标", "100%")
    assert charts.grade(0.33, 1.0) == charts.Grade("bad", "未达标", "100%")
    assert charts.grade(0.95, 1.0).tone == "warn"
    assert charts.grade(0.98, 0.98) == charts.Grade("good", "达标", "98%")
    assert charts.grade(0.9799, 0.98).tone == "warn"
    assert charts.grade(None, 0.98) == charts.Grade("", "暂无数据", "98%")
