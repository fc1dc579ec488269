"""「数据」 in Debian's Chromium against a real `run.py serve` (demo data, plus the accounts
and the report tests/console/test_accessibility.py adds): the admin opens it from the menu,
reads the definitions, the trend charts keep every label inside their drawings at a
laptop's and a phone's width, the workbook downloads and reads back with openpyxl, and the
monthly report prints to an A4 PDF with no menu or buttons; a grid officer sees only their
grid; an instructor is refused."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from openpyxl import load_workbook

from bot import texts as T
from tests.browser_util import ARTIFACTS, chromium, need_browser, running_server
from tests.console.test_accessibility import (
    ACCOUNTS,
    DEMO_ADMIN,
    DEMO_PASSWORD,
    PASSWORD,
    _login,
    _say,
    _user,
)

PHONE = {"width": 390, "height": 844}
LAPTOP = {"width": 1280, "height": 800}
A4_WIDTH = 718  # px: 210 mm less 2 × 12 mm of margin, at 96 px an inch

CHARTS = """() => {
  const out = {drawn: 0, texts: 0, clipped: [], small: [], scroll: 0, inner: window.innerWidth};
  out.scroll = document.scrollingElement.scrollWidth;
  for (const svg of document.querySelectorAll('svg.chart')) {
    const box = svg.getBoundingClientRect();
    if (!box.width || !box.height) continue;  // the drawing for the other width
    out.drawn += 1;
    const scale = box.width / svg.viewBox.baseVal.width;
    for (const t of svg.querySelectorAll('text')) {
      out.texts += 1;
      const r = t.getBoundingClientRect();
      if (r.left < box.left - 0.5 || r.right > box.right + 0.5 ||
          r.top < box.top - 0.5 || r.bottom > box.bottom + 0.5)
        out.clipped.push(svg.id + ' ' + JSON.stringify(t.textContent));
      if (parseFloat(getComputedStyle(t).fontSize) * scale < 10)
        out.small.push(svg.id + ' ' + JSON.stringify(t.textContent));
    }
  }
  return out;
}"""


def _accounts_and_a_report(base: str, env: dict[str, str]) -> None:
    """The instructor and the 湖塘 officer of the accessibility test, and a report filed
    in 湖塘 through the phone (besides the demo's)."""
    for name, (role, *extra) in ACCOUNTS.items():
        _user(env, name, role, *extra)
    for words in ("注册", "李四", "13900139000", "2", "美团", "1"):
        _say(base, kind="text", content=words)
    assert "登记完成" in _say(base, kind="text", content="同意")
    _say(base, kind="text", content="上报")
    _say(base, kind="text", content="楼下深夜噪音扰民，影响休息")
    _say(base, kind="text", content="跳过")
    _say(base, kind="location", lat=31.7101, lng=119.9507, label="湖塘镇")
    reply = _say(base, kind="text", content="确认")
    for _ in range(3):
        if re.search(r"R\d{8}-\d{4}", reply):
            return
        reply = _say(base, kind="text", content="2" if "附近已有" in reply else "确认")
    raise AssertionError(reply)


def _row_names(page: Any, table: str) -> list[str]:
    return page.locator(f"#{table} tbody th").all_inner_texts()


def _check_charts(page: Any) -> None:
    for viewport in (LAPTOP, PHONE):
        page.set_viewport_size(viewport)
        m = page.evaluate(CHARTS)
        assert m["drawn"] == 3 and m["texts"] > 30, m
        assert not m["clipped"] and not m["small"], m
        assert m["scroll"] <= m["inner"], m


def test_numbers_in_a_browser(db_url: str, tmp_path: Path) -> None:
    need_browser()
    with running_server(tmp_path, db_url) as (base, env), chromium() as browser:
        _accounts_and_a_report(base, env)
        context = browser.new_context(locale="zh-CN", viewport=LAPTOP, accept_downloads=True)
        page = context.new_page()
        page.set_default_timeout(20_000)
        _login(page, base, DEMO_ADMIN, DEMO_PASSWORD)
        page.locator("nav.menu a", has_text="数据").click()
        page.wait_for_url(f"{base}/console/numbers")
        names = [name for _, name, _ in T.NUMBERS_DEFINITIONS]
        assert page.locator("dl.defs dt").all_inner_texts() == names
        definitions = " ".join(page.locator("dl.defs dd").all_inner_texts())
        assert "已办结 ÷（全部上报 − 重复关闭）" in definitions and "工作小时" in definitions
        assert "按上报时间（北京时间）所在的自然月" in page.locator("section.defs").inner_text()
        tiles = page.locator(".tile").all_inner_texts()
        assert len(tiles) == len(names) and any("达标" in t for t in tiles[:2])
        _check_charts(page)
        page.set_viewport_size(LAPTOP)
        total = int(page.locator("h1 small").inner_text().split("共上报 ")[1].split(" 件")[0])
        assert total >= 1  # the report filed through the phone, and the demo's
        grids_shown = _row_names(page, "by-grid")
        month = page.locator("input#month").input_value()
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "console-numbers.png"), full_page=True)

        with page.expect_download() as download:
            page.get_by_role("link", name="导出 Excel").click()
        saved = tmp_path / "numbers.xlsx"
        download.value.save_as(saved)
        assert download.value.suggested_filename == f"随手拍月度报告-{month}.xlsx"
        book = load_workbook(saved)
        assert book.sheetnames == list(T.NUMBERS_SHEETS)
        overview = {r[0]: r[1] for r in book["概览"].iter_rows(min_row=2, values_only=True)}
        assert overview["全部上报"] == total
        assert overview["办结率"] == page.locator("#tile-resolution b").inner_text()
        assert [r[0] for r in book["按网格"].iter_rows(min_row=2, values_only=True)] == \
            grids_shown
        assert sum(r[1] for r in book["按网格"].iter_rows(min_row=2, values_only=True)) == total
        assert book["按月"].max_row == 13  # the header and 12 months

        page.goto(f"{base}/console/numbers/monthly?month={month}")
        year, mm = month.split("-")
        title = f"武进区新就业群体随手拍月度报告 {year}年{mm}月"
        assert page.locator("h1.report-title").inner_text() == title
        assert "生成时间" in page.locator("#generated").inner_text()
        page.emulate_media(media="print")
        page.set_viewport_size({"width": A4_WIDTH, "height": 1000})
        for hidden in ("header.top", "form.filters", "footer.foot"):
            assert not page.locator(hidden).is_visible(), hidden
        assert page.locator("h1.report-title").is_visible()
        assert page.evaluate("document.scrollingElement.scrollWidth") <= A4_WIDTH
        pdf = page.pdf(format="A4", print_background=True)
        assert pdf[:5] == b"%PDF-" and len(pdf) > 5_000
        (ARTIFACTS / "numbers-monthly.pdf").write_bytes(pdf)
        context.close()

        officer = browser.new_context(locale="zh-CN", viewport=PHONE).new_page()
        _login(officer, base, "a11y-officer", PASSWORD)
        officer.locator("nav.menu a", has_text="数据").click()
        officer.wait_for_url(f"{base}/console/numbers")
        assert T.NUMBERS_SCOPE_OFFICER in officer.locator("section.defs").inner_text()
        assert set(_row_names(officer, "by-grid")) <= {"湖塘网格（演示）"}
        assert officer.locator("dl.defs dt").all_inner_texts() == names
        _check_charts(officer)
        officer.set_viewport_size(PHONE)
        officer.screenshot(path=str(ARTIFACTS / "console-numbers-phone.png"),
                           clip={"x": 0, "y": 0, "width": 390, "height": 2400}, full_page=True)
        refused = officer.goto(f"{base}/console/numbers/monthly")
        assert refused is not None and refused.status == 403
        officer.context.close()

        teacher = browser.new_context(locale="zh-CN", viewport=LAPTOP).new_page()
        _login(teacher, base, "a11y-teacher", PASSWORD)
        assert teacher.locator("nav.menu a", has_text="数据").count() == 0
        refused = teacher.goto(f"{base}/console/numbers")
        assert refused is not None and refused.status == 403
        assert "没有权限" in teacher.content() and T.NUMBERS_REFUSED in teacher.content()
        teacher.context.close()
