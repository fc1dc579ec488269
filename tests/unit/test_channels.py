"""The channel policy (bot/push/channels.py), every branch: no database, no sandbox."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from bot.push import channels
from bot.push.channels import Choice

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Tpl:  # what the policy reads of a configured template (bot/wechat/templates.py)
    id: str


TEMPLATES = {"kind_a": Tpl("tpl-a"), "kind_empty": Tpl("")}


@dataclass
class View:
    followed: bool = True
    last_inbound_at: datetime | None = None
    kefu_used: int = 0
    last_event_at: datetime | None = None
    kefu_used_event: int = 0
    template_blocked_at: datetime | None = None


def choose(member: View | None, kind: str = "kind_a", data: bool = True) -> Choice:
    return channels.choose(member, kind, data, TEMPLATES, NOW)


# --- 客服 allowances -----------------------------------------------------------------------


def test_the_event_window_allows_three_in_a_minute() -> None:
    m = View(last_event_at=NOW - timedelta(seconds=59))
    assert choose(m) == Choice("kefu", "event")
    for _ in range(channels.KEFU_EVENT_MESSAGES):
        assert channels.kefu_allowance(m, NOW) == "event"
        channels.spend(m, "event")
    assert (m.kefu_used_event, m.kefu_used) == (3, 0)
    assert channels.kefu_allowance(m, NOW) is None
    assert choose(m) == Choice("template")


def test_the_event_window_shuts_after_a_minute() -> None:
    m = View(last_event_at=NOW - timedelta(minutes=1))
    assert channels.kefu_allowance(m, NOW) is None


def test_the_message_window_allows_five_in_48_hours() -> None:
    m = View(last_inbound_at=NOW - timedelta(hours=47, minutes=59))
    assert choose(m) == Choice("kefu", "window")
    for _ in range(channels.KEFU_WINDOW_MESSAGES):
        assert channels.kefu_allowance(m, NOW) == "window"
        channels.spend(m, "window")
    assert (m.kefu_used, m.kefu_used_event) == (5, 0)
    assert channels.kefu_allowance(m, NOW) is None
    assert choose(m) == Choice("template")


def test_the_message_window_shuts_after_48_hours() -> None:
    m = View(last_inbound_at=NOW - timedelta(hours=48))
    assert channels.kefu_allowance(m, NOW) is None
    assert choose(m) == Choice("template")


def test_the_event_allowance_is_spent_before_the_window() -> None:
    m = View(last_inbound_at=NOW - timedelta(hours=1), last_event_at=NOW)
    assert channels.kefu_allowance(m, NOW) == "event"
    m.kefu_used_event = channels.KEFU_EVENT_MESSAGES
    assert channels.kefu_allowance(m, NOW) == "window"  # event spent: the window still has some


def test_both_allowances_spent_means_the_template() -> None:
    m = View(last_inbound_at=NOW, kefu_used=5, last_event_at=NOW, kefu_used_event=3)
    assert choose(m) == Choice("template")


def test_choose_spends_nothing() -> None:
    m = View(last_inbound_at=NOW, last_event_at=NOW)
    choose(m)
    assert (m.kefu_used, m.kefu_used_event) == (0, 0)


# --- who gets nothing --------------------------------------------------------------------


def test_an_unknown_member_is_undeliverable() -> None:
    assert choose(None) == Choice(None, reason=channels.REASON_UNKNOWN_MEMBER)


def test_an_unfollowed_member_is_undeliverable_even_inside_the_window() -> None:
    m = View(followed=False, last_inbound_at=NOW, last_event_at=NOW)
    assert choose(m) == Choice(None, reason=channels.REASON_UNFOLLOWED)


# --- templates ---------------------------------------------------------------------------


def test_outside_the_window_the_kinds_template() -> None:
    assert choose(View()) == Choice("template")
    assert channels.template_for("kind_a", True, TEMPLATES) == "tpl-a"


@pytest.mark.parametrize("kind", ["kind_unconfigured", "kind_empty"])
def test_no_template_for_the_kind_is_undeliverable(kind: str) -> None:
    assert choose(View(), kind) == Choice(None, reason=channels.REASON_NO_CHANNEL)
    assert channels.template_for(kind, True, TEMPLATES) is None


def test_no_template_data_is_undeliverable() -> None:
    assert choose(View(), data=False) == Choice(None, reason=channels.REASON_NO_CHANNEL)
    assert channels.template_for("kind_a", False, TEMPLATES) is None


def test_inside_the_window_no_template_is_needed() -> None:
    m = View(last_inbound_at=NOW)
    assert choose(m, "kind_unconfigured", data=False) == Choice("kefu", "window")


# --- WeChat says the window is shut ------------------------------------------------------


@pytest.mark.parametrize("errcode", [45015, 45047])
def test_a_closed_window_falls_back_to_the_template(errcode: int) -> None:
    assert channels.template_fallback(errcode, "kind_a", True, TEMPLATES) == "tpl-a"


@pytest.mark.parametrize(("kind", "data"), [("kind_unconfigured", True), ("kind_empty", True),
                                            ("kind_a", False)])
def test_a_closed_window_without_a_template_stands(kind: str, data: bool) -> None:
    assert channels.template_fallback(45015, kind, data, TEMPLATES) is None


@pytest.mark.parametrize("errcode", [40003, 43004, 45009, 45011, -1])
def test_other_answers_do_not_fall_back(errcode: int) -> None:
    assert channels.template_fallback(errcode, "kind_a", True, TEMPLATES) is None


# --- 订阅通知 and blocked templates ---------------------------------------------------------

SUBSCRIPTIONS = {"kind_a": Tpl("sub-a")}


@dataclass(frozen=True)
class Held:  # what the policy reads of a grant (models/subscribe.py Grant)
    one_time: int = 0
    long_term: bool = False


def choose_with(member: View, grants: dict[str, Held], kind: str = "kind_a",
                data: bool = True) -> Choice:
    return channels.choose(member, kind, data, TEMPLATES, NOW, SUBSCRIPTIONS, grants)


def test_a_one_time_grant_comes_before_the_template_and_is_spent() -> None:
    assert choose_with(View(), {"sub-a": Held(one_time=2)}) == Choice(
        "subscribe", grant="sub-a", spends_grant=True)


def test_a_long_term_grant_is_not_spent() -> None:
    assert choose_with(View(), {"sub-a": Held(long_term=True)}) == Choice(
        "subscribe", grant="sub-a", spends_grant=False)


def test_the_kefu_window_comes_before_any_grant() -> None:
    assert choose_with(View(last_inbound_at=NOW), {"sub-a": Held(one_time=1)}) == Choice(
        "kefu", "window")


@pytest.mark.parametrize("grants", [{}, {"sub-a": Held()}, {"other": Held(one_time=3)}])
def test_no_usable_grant_means_the_template(grants: dict[str, Held]) -> None:
    assert choose_with(View(), grants) == Choice("template")


def test_a_grant_needs_values_to_fill_its_fields() -> None:
    assert choose_with(View(), {"sub-a": Held(one_time=1)}, data=False) == Choice(
        None, reason=channels.REASON_NO_CHANNEL)


def test_a_member_who_blocked_templates_gets_none() -> None:
    blocked = View(template_blocked_at=NOW - timedelta(days=1))
    assert choose_with(blocked, {}) == Choice(None, reason=channels.REASON_TEMPLATE_BLOCKED)
    assert choose_with(blocked, {"sub-a": Held(one_time=1)}).channel == "subscribe"
    assert channels.template_fallback(45015, "kind_a", True, TEMPLATES, blocked) is None


def test_43101_falls_back_to_the_template_once() -> None:
    assert channels.template_fallback(channels.NO_GRANT_ERRCODE, "kind_a", True,
                                      TEMPLATES) == "tpl-a"
