"""The one redaction function (models/redact.py): a table of spellings of phone, ID-card and
landline numbers that must be masked, and of tickets, dates and amounts that must not."""

from __future__ import annotations

import logging

import pytest

from bot.logs import _MaskingFormatter, _MaskPhones
from models.redact import digits_of, redact

PHONE = "13900002222"

# (typed, what is published)
MASKED = [
    ("13900002222", "***********"),
    ("电话13900002222", "电话***********"),
    ("139.0000.2222", "***********"),
    ("139-0000-2222", "***********"),
    ("139_0000_2222", "***********"),
    ("139 0000 2222", "***********"),
    ("1 3 9 0 0 0 0 2 2 2 2", "***********"),
    ("139 - 0000 - 2222", "***********"),
    ("(139)00002222", "***********"),
    ("（139）0000-2222", "***********"),
    ("【139】00002222", "***********"),
    ("139/0000/2222", "***********"),
    ("139·0000·2222", "***********"),
    ("１３９００００２２２２", "***********"),
    ("１３９－００００－２２２２", "***********"),
    ("139０000２222", "***********"),
    ("一三九零零零零二二二二", "***********"),
    ("幺三九〇〇〇〇二二二二", "***********"),
    ("壹叁玖零零零零贰贰贰贰", "***********"),
    ("一三九 零零零零 二二二二", "***********"),
    ("139零零零零2222", "***********"),
    ("+86 139 0000 2222", "***********"),
    ("+8613900002222", "***********"),
    ("008613900002222", "***********"),
    ("86-139-0000-2222", "***********"),
    ("电话13900002222一直没人接", "电话***********一直没人接"),
    ("打13900002222或者13800138000", "打***********或者***********"),
    ("第13900002222号", "第***********号"),
    ("tel:13900002222", "tel:***********"),
    # ID-card numbers: 18 characters, the last may be X
    ("身份证320412199001011234", "身份证******************"),
    ("32041219900101123X", "******************"),
    ("32041219900101123x", "******************"),
    ("320412 19900101 1234", "******************"),
    ("320412-1990-0101-123X", "******************"),
    ("３２０４１２１９９００１０１１２３４", "******************"),
    # landlines: an area code and 7–8 digits; a bare local number only after a phone word
    ("0519-8888 8888", "************"),
    ("0519-88888888", "************"),
    ("(0519)88888888", "************"),
    ("（0519）8888-8888", "************"),
    ("051988888888", "************"),
    ("010-12345678", "***********"),
    ("025 8765 4321", "***********"),
    ("零五一九八八八八八八八八", "************"),
    ("座机86668888", "座机********"),
    ("电话：8666 8888", "电话：********"),
    ("联系电话 8666-888", "联系电话 *******"),
    ("138，0013，8000", "***********"),
    ("138,0013,8000", "***********"),
    ("138、0013、8000", "***********"),
    ("138:0013:8000", "***********"),
    ("138*0013*8000", "***********"),
    ("138 - 0013 - 8000", "***********"),
    ("138\u20020013\u20028000", "***********"),
    ("打138\n0013\n8000", "打***********"),
]

# Texts that must come out as they went in.
UNTOUCHED = [
    "2026-01-23 2026-02-24",
    "2026-01-05~2026-02-10",
    "从2026-01-01 到 2026-12-31",
    "2026-12-01 13:00:00",
    "单号R20261201-0007",
    "R20261128-0001 已办结",
    "评价 R20261201-0007 5",
    "2026-12-01 10:00",
    "2026年12月1日 14:30",
    "2026.12.01",
    "20261201",
    "联系时间 2026-12-01",
    "联系时间 20261201",
    "金额1380.00元",
    "¥13,900.00",
    "1,390,000,022元",
    "订单号201612011390000222233",  # an order number: a longer run of digits
    "快递单号 773012345678901",
    "139000022223",  # twelve digits: not a mobile
    "8666 8888",  # a local number with no word saying it is one
    "一二三四五六七八九十",
    "三三两两来了七八个人",
    "湖塘花园街12号3单元401室",
    "31.7093,119.9512",
    "电话1390000222",  # a digit short
    "IP 127.0.0.1:8080",
    "",
]


@pytest.mark.parametrize(("typed", "published"), MASKED)
def test_every_spelling_is_masked(typed: str, published: str) -> None:
    assert redact(typed) == published


@pytest.mark.parametrize("typed", [t for t, _ in MASKED[:29]])
def test_no_digit_of_the_mobile_survives(typed: str) -> None:
    left = digits_of(redact(typed))
    assert "0000" not in left and "2222" not in left and PHONE not in left


@pytest.mark.parametrize("text", UNTOUCHED)
def test_tickets_dates_and_amounts_are_untouched(text: str) -> None:
    assert redact(text) == text


def test_names_are_replaced_and_the_place_and_problem_kept() -> None:
    assert redact("赵六家门口路灯坏了，电话13900002222", ["赵六"], name_mask="某某") == (
        "某某家门口路灯坏了，电话***********")
    # A name with a Chinese numeral in it is replaced before numbers are looked for.
    assert redact("找赵六一三九零零零零二二二二", ["赵六"], name_mask="某某") == "找某某***********"
    assert redact("王五和王五一", ["王五一", "王五"], name_mask="某") == "某和某"
    assert redact(None) == "" and redact("路灯不亮", [""]) == "路灯不亮"


def test_the_logs_show_a_mobile_as_before_and_nothing_else_of_it() -> None:
    assert redact("call 13912345678 or 1 3 9 0 0 0 0 2 2 2 2", partial=True) == (
        "call 139****5678 or 139****2222")
    assert redact("一三九零零零零二二二二", partial=True) == "139****2222"
    assert redact("ID 32041219900101123X", partial=True) == "ID ******************"
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "from %s at %s", (
        "139.0000.2222", "0519-88888888"), None)
    _MaskPhones().filter(record)
    assert record.getMessage() == "from 139****2222 at ************"
    try:
        raise ValueError("bad 一三九零零零零二二二二")
    except ValueError:
        import sys

        text = _MaskingFormatter().formatException(sys.exc_info())
    assert "139****2222" in text and "一三九" not in text


def test_digits_of_reads_every_spelling() -> None:
    assert digits_of("幺三九-〇〇〇〇 ２２２２") == PHONE
    assert digits_of("R20261201-0007") == "202612010007"
