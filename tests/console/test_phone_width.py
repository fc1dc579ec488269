"""The console on a phone (390 × 844) and a laptop (1280 × 800), in Debian's Chromium against
a real `run.py serve` on demo data that fills every list (tests/console/test_accessibility.py
adds it), on SQLite and on PostgreSQL.

The pages are the console's routes, read from its router (every GET page under /console but
the downloads), so a new page is visited without editing this test. A path's parameters
are filled with demo rows: the first link on a visited page that the route matches (the
role's own pages first, then the admin's). Each role — the demo admin, an instructor, a
group leader, a grid officer — visits every page: one the role may not open must be
refused (403/404); every other one, at both sizes, must not scroll sideways
(`document.scrollingElement.scrollWidth <= window.innerWidth`, and no box inside scrolls
sideways either), its list tables must be cards on the phone with each cell labelled by its
column, and every label of the dashboard's chart must lie inside its drawing at a readable
size. The main pages are photographed at both sizes into tests/artifacts/
(XIAOGE_UPDATE_DOCS=1 also copies them to docs/console-*-phone.png and docs/console-*.png).
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any

from tests.browser_util import ARTIFACTS, ROOT, chromium, need_browser, running_server
from tests.console.test_accessibility import (
    ACCOUNTS,
    DEMO_ADMIN,
    DEMO_PASSWORD,
    PASSWORD,
    _fill_every_list,
    _login,
)

PHONE = {"width": 390, "height": 844}
LAPTOP = {"width": 1280, "height": 800}
SIZES = {"390×844": PHONE, "1280×800": LAPTOP}
DOWNLOAD = re.compile(r"\.(csv|xlsx|png|jpe?g|zip|json|pdf)$|/photo$")
# Photographed for docs/ and the README: the page, and the name of its picture.
SHOTS = {"/console/": "dashboard", "/console/courses": "courses",
         "/console/stations": "stations", "/console/reports": "reports",
         "/console/notices": "notices", "/console/members": "members",
         "/console/numbers": "numbers", "/console/groups": "groups",
         "/console/admin": "admin"}
# Desktop pictures that tests/console/test_browser.py already takes after its own story.
SHOT_ELSEWHERE = {"dashboard", "courses", "reports", "members"}

MEASURE = """() => {
  const se = document.scrollingElement, inner = window.innerWidth;
  const out = {scroll: se.scrollWidth, inner, sticking: [], scrolling: [], clipped: [],
               small: [], unlabelled: [], tables: 0, cards: 0, chartTexts: 0};
  const name = el => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
    (typeof el.className === 'string' && el.className
     ? '.' + el.className.trim().replace(/\\s+/g, '.') : '');
  for (const el of document.body.querySelectorAll('*')) {
    const r = el.getBoundingClientRect();
    if (r.width && r.right > inner + 0.5) out.sticking.push(name(el) + ' → ' + Math.round(r.right));
    const s = getComputedStyle(el);
    if (['auto', 'scroll'].includes(s.overflowX) && el.scrollWidth > el.clientWidth + 1)
      out.scrolling.push(name(el) + ' ' + el.scrollWidth + '>' + el.clientWidth);
  }
  for (const t of document.querySelectorAll('table.list.cards')) {
    out.tables += 1;
    if (getComputedStyle(t.querySelector('tbody tr') || t).display === 'block') out.cards += 1;
    for (const td of t.querySelectorAll('tbody td'))
      if (!td.dataset.label && td.textContent.trim() && !td.closest('table.keep'))
        out.unlabelled.push(name(t) + ': ' + td.textContent.trim().slice(0, 20));
  }
  for (const svg of document.querySelectorAll('svg.chart')) {
    const box = svg.getBoundingClientRect();
    if (!box.width || !box.height) continue;  // the drawing for the other size
    const scale = box.width / svg.viewBox.baseVal.width;
    for (const t of svg.querySelectorAll('text')) {
      out.chartTexts += 1;
      const r = t.getBoundingClientRect(), label = JSON.stringify(t.textContent);
      if (r.left < box.left - 0.5 || r.right > box.right + 0.5 ||
          r.top < box.top - 0.5 || r.bottom > box.bottom + 0.5)
        out.clipped.push(label + ' at ' + [r.left, r.top, r.right, r.bottom].map(Math.round) +
                         ' outside ' + [box.left, box.top, box.right, box.bottom].map(Math.round));
      const px = parseFloat(getComputedStyle(t).fontSize) * scale;
      if (px < (t.classList.contains('small') ? 8.5 : 10))
        out.small.push(label + ' ' + px.toFixed(1) + 'px');
    }
  }
  return out;
}"""


def console_pages() -> tuple[list[str], list[tuple[str, re.Pattern[str]]]]:
    """The console's GET pages from its router: plain paths, and (route, pattern) for the
    ones with parameters; downloads, the static files and the login page left out."""
    import handlers
    from bot.clock import SystemClock
    from bot.settings import load_settings
    from bot.web.console import create_console

    console = create_console(load_settings(ROOT / "config.yaml"), None,  # type: ignore[arg-type]
                             SystemClock(), None, handlers.install())
    plain: list[str] = []
    dynamic: list[tuple[str, re.Pattern[str]]] = []
    for resource in console.router.resources():
        path = "/console" + resource.canonical
        if "GET" not in {r.method for r in resource} or DOWNLOAD.search(path) \
                or path.startswith(("/console/static", "/console/login")):
            continue
        pattern = resource.get_info().get("pattern")
        if pattern is None:
            plain.append(path if path != "/console/" else "/console/")
        elif path not in (d[0] for d in dynamic):
            dynamic.append((path, re.compile("/console" + pattern.pattern)))
    return plain, dynamic


def _links(page: Any, base: str) -> list[str]:
    hrefs = page.eval_on_selector_all("a[href]", "els => els.map(a => a.href)")
    return [h.split("#")[0].split("?")[0][len(base):] for h in hrefs if h.startswith(base)]


def _shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"console-{name}.png"
    page.screenshot(path=str(path), full_page=True)
    if os.environ.get("XIAOGE_UPDATE_DOCS") == "1":
        shutil.copy(path, ROOT / "docs" / path.name)


class Visit:
    """One role's pass over every page with one browser context."""

    def __init__(self, browser: Any, base: str, who: str, password: str) -> None:
        self.base, self.who = base, who
        self.page = browser.new_context(locale="zh-CN", viewport=PHONE).new_page()
        self.page.set_default_timeout(15_000)
        _login(self.page, base, who, password)
        self.links: list[str] = []
        self.scanned: list[str] = []
        self.refused: list[str] = []
        self.problems: list[str] = []

    def open(self, path: str) -> bool:
        """The page loaded (True), or refused to this role (False)."""
        page = self.page
        page.set_viewport_size(PHONE)
        resp = page.goto(self.base + path)
        assert resp is not None
        if resp.status in (403, 404) and self.who != DEMO_ADMIN:
            assert page.locator("nav.menu").count(), f"{self.who}: {path} bare refusal"
            self.refused.append(path)
            return False
        assert resp.status == 200, f"{self.who}: {path} → {resp.status}"
        self.links += _links(page, self.base)
        return True

    def check(self, path: str) -> None:
        page = self.page
        for size, viewport in SIZES.items():
            page.set_viewport_size(viewport)
            m = page.evaluate(MEASURE)
            where = f"{path} @{size} as {self.who}"
            if m["scroll"] > m["inner"]:
                self.problems.append(f"{where}: scrollWidth {m['scroll']} > {m['inner']}; "
                                     f"sticking out: {m['sticking'][:6]}")
            for kind in ("scrolling", "clipped", "small", "unlabelled"):
                if m[kind]:
                    self.problems.append(f"{where}: {kind}: {m[kind][:6]}")
            if viewport is PHONE and m["cards"] != m["tables"]:
                self.problems.append(f"{where}: {m['tables'] - m['cards']} tables not cards")
            if path == "/console/" and not m["chartTexts"]:
                self.problems.append(f"{where}: the chart has no labels")
            if self.who == DEMO_ADMIN and path in SHOTS:
                name = SHOTS[path]
                if viewport is PHONE:
                    _shot(page, f"{name}-phone")
                elif name not in SHOT_ELSEWHERE:
                    _shot(page, name)
        self.scanned.append(path)

    def close(self) -> None:
        self.page.context.close()


def _fill(dynamic: list[tuple[str, re.Pattern[str]]], *link_lists: list[str]
          ) -> dict[str, str]:
    """route → the first link (of the lists, in order) it matches."""
    found: dict[str, str] = {}
    for route, pattern in dynamic:
        for links in link_lists:
            hit = next((link for link in links if pattern.fullmatch(link)), None)
            if hit:
                found[route] = hit
                break
    return found


def test_every_console_page_fits_a_phone_and_a_laptop(db_url: str, tmp_path: Path) -> None:
    need_browser()
    plain, dynamic = console_pages()
    assert "/console/" in plain and len(plain) >= 8 and len(dynamic) >= 5, (plain, dynamic)
    accounts = [(DEMO_ADMIN, DEMO_PASSWORD), *((n, PASSWORD) for n in ACCOUNTS)]
    admin_links: list[str] = []
    report: list[str] = []
    problems: list[str] = []
    with running_server(tmp_path, db_url) as (base, env), chromium() as browser:
        _fill_every_list(base, env, tmp_path)
        for who, password in accounts:
            visit = Visit(browser, base, who, password)
            menu = [h[len(base):] for h in visit.page.eval_on_selector_all(
                "nav.menu a[href]", "els => els.map(a => a.href)")]
            for path in plain:
                if visit.open(path):
                    visit.check(path)
            done: set[str] = set()
            for _ in range(3):  # a detail page's links fill its edit and cancel forms
                fill = _fill(dynamic, visit.links, admin_links)
                for route, path in fill.items():
                    if route not in done:
                        done.add(route)
                        if visit.open(path):
                            visit.check(path)
            if who == DEMO_ADMIN:
                admin_links = list(visit.links)
                missing = [route for route, _ in dynamic if route not in done]
                assert not missing, f"no demo row fills {missing}"
            assert not set(menu) & set(visit.refused), f"{who}: menu page refused"
            assert set(menu) <= set(visit.scanned), (who, menu, visit.scanned)
            report.append(f"{who}: scanned {len(visit.scanned)} {visit.scanned}; "
                          f"refused {len(visit.refused)} {visit.refused}")
            problems += visit.problems
            visit.close()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "phone-width.txt").write_text("\n".join(report + problems) + "\n",
                                               encoding="utf-8")
    print("\n".join(report))
    assert not problems, "\n".join(problems)
