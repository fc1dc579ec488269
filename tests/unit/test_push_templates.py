"""Template / subscribe mappings (bot/wechat/templates.py): the checks at start, each naming
its key; filling at send time (formats, cuts, line breaks, legacy rows); load_settings
refusing a bad mapping; and `run.py templates` as an operator runs it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.settings import ConfigError, load_settings
from bot.wechat import templates as tmpl
from bot.wechat.templates import SubscribeMapping, TemplateMapping, check_mappings, fill
from models import push_values as pv

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "config.yaml"


def problems(kind: str, fields: dict[str, str], *, template: bool = True,
             **extra: Any) -> list[str]:
    cls = TemplateMapping if template else SubscribeMapping
    key = "wechat.templates" if template else "wechat.subscribe"
    return check_mappings(key, {kind: cls(id="t", fields=fields, **extra)}, template=template)


def only(found: list[str], key: str) -> str:
    """The one problem, which names `key`; its reason."""
    assert len(found) == 1, found
    assert found[0].startswith(f"{key}: "), found
    return found[0].removeprefix(f"{key}: ")


# --- checks at start ---------------------------------------------------------------------------


def test_the_demo_config_maps_every_kind_both_ways() -> None:
    s = load_settings(CONFIG)
    assert set(s.wechat.templates) == set(s.wechat.subscribe) == set(pv.KINDS)
    assert "work_order" in pv.KINDS
    rs = s.wechat.templates["report_status"]
    assert "report.rate_hint" in {r.value for r in rs.rules}


def test_a_good_mapping_has_no_problems() -> None:
    assert problems("report_status", {
        "character_string1": "report.ticket", "phrase2": "report.status",
        "thing3": "report.note|cut", "thing4": "report.rate_hint", "time5": "event.time",
        "date6": "event.time", "thing7": "text:街道城管科"},
        url="https://x.example/r/{report.ticket}") == []


def test_unknown_kind() -> None:
    found = check_mappings("wechat.templates", {"payday": TemplateMapping(
        id="t", fields={"thing1": "text:工资"})}, template=True)
    assert "unknown kind" in only(found, "wechat.templates.payday")


def test_unknown_value_for_the_kind() -> None:
    reason = only(problems("course_reminder", {"thing1": "report.ticket"}),
                  "wechat.templates.course_reminder.fields.thing1")
    assert "report.ticket" in reason and "course.title" in reason


@pytest.mark.parametrize("field", ["thing", "title1", "Thing1", "1", "thing_1x"])
def test_bad_field_names(field: str) -> None:
    reason = only(problems("notice", {field: "notice.time"}),
                  f"wechat.templates.notice.fields.{field}")
    assert "keyword field name" in reason


def test_const_fields_are_wechats() -> None:
    reason = only(problems("notice", {"const1": "notice.title|cut"}),
                  "wechat.templates.notice.fields.const1")
    assert "const" in reason


@pytest.mark.parametrize(("field", "value"), [
    ("thing1", "notice.body"),           # unbounded
    ("thing1", "notice.title"),          # up to 40
    ("phrase1", "course.what"),          # 20 > 5
    ("character_string1", "report.ticket"),  # fine for subscribe, see below
])
def test_a_value_that_may_not_fit_needs_cut(field: str, value: str) -> None:
    kind = value.split(".")[0].replace("course", "course_reminder").replace(
        "report", "report_status")
    found = problems(kind, {field: value})
    if field == "character_string1":  # a ticket is ≤ 20: fits a template's 20
        assert found == []
        return
    reason = only(found, f"wechat.templates.{kind}.fields.{field}")
    assert f"{value}|cut" in reason
    assert problems(kind, {field: f"{value}|cut"}) == []


def test_template_messages_hold_twenty_characters_in_any_field() -> None:
    # course.place (≤ 120) even in a character_string (32): a template's 20 at most
    assert problems("course_reminder", {"character_string1": "course.code"}) == []
    assert problems("course_reminder", {"thing1": "course.place|cut"}) == []
    reason = only(problems("notice", {"thing1": "text:" + "字" * 21}),
                  "wechat.templates.notice.fields.thing1")
    assert "21" in reason


def test_time_and_number_fields_take_their_kind_only() -> None:
    reason = only(problems("notice", {"time1": "notice.title|cut"}),
                  "wechat.templates.notice.fields.time1")
    assert "time" in reason
    reason = only(problems("notice", {"date2": "notice.title"}),
                  "wechat.templates.notice.fields.date2")
    assert "time" in reason
    reason = only(problems("course_reminder", {"number3": "course.title"}),
                  "wechat.templates.course_reminder.fields.number3")
    assert "number" in reason
    assert problems("group_activity", {"number3": "activity.present"}) == []


def test_unknown_url_and_page_placeholders() -> None:
    reason = only(problems("notice", {"time1": "notice.time"}, url="https://x/{ticket}"),
                  "wechat.templates.notice.url")
    assert "{ticket}" in reason
    reason = only(problems("notice", {"time1": "notice.time"}, template=False,
                           page="pages/n?id={notice.id}"), "wechat.subscribe.notice.page")
    assert "{notice.id}" in reason


def test_a_subscribe_message_keeps_wechats_own_limits() -> None:
    # report.note|cut in a thing: fine both ways; course.code (≤ 16) in a character_string
    assert problems("report_status", {"thing1": "report.note|cut"}, template=False) == []
    reason = only(problems("report_status", {"thing1": "report.note"}, template=False),
                  "wechat.subscribe.report_status.fields.thing1")
    assert "report.note|cut" in reason


# --- load_settings refuses a bad mapping with the key named --------------------------------


def _config(tmp_path: Path, kind: str, mapping: Any, section: str = "templates") -> Path:
    data = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))
    data["wechat"][section][kind] = mapping
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


@pytest.mark.parametrize(("section", "kind", "mapping", "key", "words"), [
    ("templates", "course_reminder", {"id": "t", "fields": {"thing1": "course.place"}},
     "wechat.templates.course_reminder.fields.thing1", "course.place|cut"),
    ("templates", "notice", {"id": "t", "fields": {"time1": "notice.nope"}},
     "wechat.templates.notice.fields.time1", "unknown value"),
    ("templates", "notice", "demo-tmpl-notice", "wechat.templates.notice", "fields"),
    ("subscribe", "work_order", {"id": "s", "fields": {"const1": "order.title"}},
     "wechat.subscribe.work_order.fields.const1", "const"),
    ("subscribe", "payday", {"id": "s", "fields": {"thing1": "text:x"}},
     "wechat.subscribe.payday", "unknown kind"),
])
def test_load_settings_names_the_key(tmp_path: Path, section: str, kind: str, mapping: Any,
                                     key: str, words: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_settings(_config(tmp_path, kind, mapping, section))
    lines = [line.strip() for line in str(err.value).splitlines()]
    assert any(line.startswith(f"{key}: ") and words in line for line in lines), str(err.value)


# --- filling at send time ----------------------------------------------------------------------


def test_fill_formats_cuts_and_keeps_one_line() -> None:
    m = TemplateMapping(id="t", fields={
        "character_string1": "report.ticket", "phrase2": "report.status",
        "thing3": "report.note|cut", "thing4": "report.rate_hint", "time5": "event.time",
        "date6": "event.time", "thing7": "text:街道城管科"})
    values = {"report.ticket": "R20261207-0012", "report.status": "已办结",
              "report.note": "井盖已更换\n道路恢复通行，  感谢您的耐心等待与支持配合",
              "report.rate_hint": "回复1-5评价处理结果", "event.time": "2026-12-07T07:00:00+00:00"}
    data = fill(m, values, template=True)
    assert data == {
        "character_string1": {"value": "R20261207-0012"},
        "phrase2": {"value": "已办结"},
        "thing3": {"value": "井盖已更换 道路恢复通行， 感谢您的耐…"},  # 20 with …
        "thing4": {"value": "回复1-5评价处理结果"},
        "time5": {"value": "2026年12月07日 15:00"},  # Asia/Shanghai
        "date6": {"value": "2026年12月07日"},
        "thing7": {"value": "街道城管科"},
    }
    assert all(len(v["value"]) <= 20 and "\n" not in v["value"] for v in data.values())


def test_each_type_is_cut_to_its_limit() -> None:
    long = "A" * 40
    m = SubscribeMapping(id="s", fields={"character_string1": "report.ticket|cut",
                                         "thing2": "report.note|cut",
                                         "phrase3": "report.note|cut"})
    values = {"report.ticket": long, "report.note": "处理中ok请稍候再来"}
    sub = fill(m, values, template=False)
    assert sub["character_string1"]["value"] == "A" * 31 + "…"  # 32 for a subscribe message
    assert sub["phrase3"]["value"] == "处理中请稍"  # Chinese only, 5 at most, no "…"
    tpl = fill(TemplateMapping(id="t", fields=m.fields), values, template=True)
    assert tpl["character_string1"]["value"] == "A" * 19 + "…"  # a template's 20


def test_missing_values_fill_a_placeholder_and_numbers_keep_digits() -> None:
    """WeChat refuses an empty keyword in a 订阅通知: a missing value shows a placeholder."""
    m = TemplateMapping(id="t", fields={"thing1": "report.rate_hint", "number2": "order.count",
                                        "phrase3": "report.rate_hint",
                                        "number4": "report.rate_hint"})
    assert fill(m, {"report.status": "处理中", "order.count": "12件"}, template=True) == {
        "thing1": {"value": "-"}, "number2": {"value": "12"}, "phrase3": {"value": "无"},
        "number4": {"value": "0"}}


def test_legacy_rows_are_sent_as_they_are() -> None:
    m = TemplateMapping(id="t", fields={"thing1": "notice.title|cut"})
    legacy = {"thing1": "停电通知", "time3": "2026-11-28 10:00"}
    assert fill(m, legacy, template=True) == {"thing1": {"value": "停电通知"},
                                              "time3": {"value": "2026-11-28 10:00"}}
    assert tmpl.link(TemplateMapping(id="t", fields={"thing1": "text:x"},
                                     url="https://x/{notice.title}"), legacy,
                     "https://own") == "https://own"


def test_the_link_fills_its_placeholders() -> None:
    m = TemplateMapping(id="t", fields={"thing1": "text:x"},
                        url="https://x.example/r/{report.ticket}?s={report.status}")
    values = {"report.ticket": "R20261207-0012", "report.status": "已办结"}
    assert tmpl.link(m, values, "https://own") == \
        "https://x.example/r/R20261207-0012?s=%E5%B7%B2%E5%8A%9E%E7%BB%93"
    assert tmpl.link(TemplateMapping(id="t", fields={"thing1": "text:x"}), values,
                     "https://own") == "https://own"


def test_values_are_stored_as_iso_times() -> None:
    from datetime import UTC, datetime

    assert pv.iso_time(datetime(2026, 12, 7, 7, 0, 33, tzinfo=UTC)) == \
        "2026-12-07T15:00:00+08:00"
    for kind in pv.KINDS:  # every sample fits its own spec
        for name, spec in pv.CATALOGUE[kind].items():
            assert spec.max_len is None or len(spec.sample) <= spec.max_len, name


# --- run.py templates --------------------------------------------------------------------------


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(ROOT / "run.py"), *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=60,
                          env={"PATH": "/usr/bin:/bin", "HOME": str(ROOT)})


def test_run_templates_shows_what_a_sample_push_fills() -> None:
    done = _run("--config", str(CONFIG), "templates")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    for kind in pv.KINDS:
        assert f"\n{kind}（" in f"\n{out}"
    assert "\nreport_status（上报进度）\n" in out
    assert "  可用的值：report.ticket 单号（编号，≤20字）、" in out
    assert "  模板消息 demo-tmpl-report-status\n" in out
    assert "  订阅通知 demo-sub-report-status（一次性）\n" in out
    assert "    thing4 = 回复1-5评价处理结果\n" in out
    assert "    time5 = 2026年12月07日 15:00\n" in out
    assert "    thing2 = 请提前储水，饮水机暂停使用，给您带来不…\n" in out  # cut with |cut
    assert "    url = 未设置（用推送自带的链接，如有）\n" in out


def test_run_templates_with_a_bad_mapping_names_the_key(tmp_path: Path) -> None:
    path = _config(tmp_path, "report_status", {"id": "t", "fields": {"thing3": "report.note"}})
    done = _run("--config", str(path), "templates")
    assert done.returncode != 0
    assert "wechat.templates.report_status.fields.thing3: " in done.stderr
    assert "report.note|cut" in done.stderr and "Traceback" not in done.stderr
