"""Unit tests of the pure domain rules and the text normalisation."""

from __future__ import annotations

import logging

import pytest

from bot.logs import _MaskPhones, anon
from bot.wechat.message import normalize
from models.profile import (
    InvalidAnswer,
    mask_mobile,
    parse_choice,
    parse_industry,
    parse_mobile,
    parse_name,
    parse_party_status,
    parse_platform,
)


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("  帮助 ", "帮助"),
        ("/帮助", "帮助"),
        ("／帮助", "帮助"),
        ("　我的　", "我的"),
        ("加入小组　ＡＢ１２", "加入小组 AB12"),
        ("？", "?"),
        ("评价  R1   5", "评价 R1 5"),
    ],
)
def test_normalize(raw: str, clean: str) -> None:
    assert normalize(raw) == clean


@pytest.mark.parametrize("good", ["张三", "欧阳娜娜", "Li Lei", "阿卜杜·热合曼"])
def test_names_accepted(good: str) -> None:
    assert parse_name(good) == good


@pytest.mark.parametrize(
    ("bad", "reason"),
    [("张3", "name_digits"), ("张", "name_length"), ("张" * 21, "name_length"),
     ("张三！", "name_chars"), ("", "name_length")],
)
def test_names_refused(bad: str, reason: str) -> None:
    with pytest.raises(InvalidAnswer) as err:
        parse_name(bad)
    assert err.value.reason == reason


@pytest.mark.parametrize(
    "raw", ["13800138000", "138 0013 8000", "138-0013-8000", "+8613800138000"]
)
def test_mobiles_accepted(raw: str) -> None:
    assert parse_mobile(raw) == "13800138000"


@pytest.mark.parametrize(
    ("bad", "reason"),
    [("1380013800", "mobile_length"), ("12800138000", "mobile_prefix"),
     ("1380013800a", "mobile_digits"), ("138001380001", "mobile_length")],
)
def test_mobiles_refused(bad: str, reason: str) -> None:
    with pytest.raises(InvalidAnswer) as err:
        parse_mobile(bad)
    assert err.value.reason == reason


def test_choices_by_number_name_or_part() -> None:
    assert parse_industry("1") == "快递物流"
    assert parse_industry("七") == "其他"
    assert parse_industry("外卖") == "外卖送餐"
    assert parse_industry("网约车") == "网约车"
    assert parse_party_status("3") == "入党积极分子"
    with pytest.raises(InvalidAnswer):
        parse_choice("0", ["a", "b"])
    with pytest.raises(InvalidAnswer) as err:
        parse_choice("党", ["中共党员", "预备党员"])  # ambiguous
    assert err.value.reason == "choice_unknown"


def test_platform_length() -> None:
    assert parse_platform(" 美团  外卖 ") == "美团 外卖"
    with pytest.raises(InvalidAnswer):
        parse_platform("x" * 31)


def test_mask_mobile() -> None:
    assert mask_mobile("13800138000") == "138****8000"
    assert mask_mobile(None) == ""


def test_logs_mask_phones_and_hash_openids() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "call %s from 13800138000",
                               ("13912345678",), None)
    _MaskPhones().filter(record)
    assert record.getMessage() == "call 139****5678 from 138****8000"
    assert anon("o-abc") == anon("o-abc") and "o-abc" not in anon("o-abc")


def test_the_service_window_is_written_at_most_once_a_minute() -> None:
    from datetime import UTC, datetime, timedelta

    from models.member import Member, window_needs_update

    now = datetime(2026, 11, 28, 2, 0, tzinfo=UTC)
    m = Member(openid="o", created_at=now)
    assert window_needs_update(m, now)  # never written
    m.last_inbound_at = now
    assert not window_needs_update(m, now + timedelta(seconds=59))
    assert window_needs_update(m, now + timedelta(seconds=60))
    m.kefu_used = 1  # something was spent: a new message must reset the count at once
    assert window_needs_update(m, now + timedelta(seconds=1))
