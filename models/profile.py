"""Rules for the answers of the registration and profile dialogs: pure functions.

Each parser returns the clean value or raises InvalidAnswer with a reason code;
the handlers turn the code into Chinese (bot/texts).
"""

from __future__ import annotations

import re

from models.errors import DomainError
from models.member import INDUSTRIES, PARTY_STATUSES


class InvalidAnswer(DomainError):
    """A registration answer refused (a code, see models/errors.py)."""


_CN_DIGITS = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_NAME = re.compile(r"^[\u3400-\u9fffA-Za-z·•. ]+$")
_MOBILE = re.compile(r"^1[3-9]\d{9}$")


def parse_name(text: str) -> str:
    name = " ".join(text.split())
    if any(ch.isdigit() for ch in name):
        raise InvalidAnswer("name_digits")
    if not 2 <= len(name) <= 20:
        raise InvalidAnswer("name_length")
    if not _NAME.match(name):
        raise InvalidAnswer("name_chars")
    return name


def parse_mobile(text: str) -> str:
    digits = re.sub(r"[\s\-()]", "", text)
    digits = digits.removeprefix("+86").removeprefix("0086")
    if not digits.isdigit():
        raise InvalidAnswer("mobile_digits")
    if len(digits) != 11:
        raise InvalidAnswer("mobile_length")
    if not _MOBILE.match(digits):
        raise InvalidAnswer("mobile_prefix")
    return digits


def parse_choice(text: str, options: list[str]) -> str:
    """A number (1..n, digits or 一..九) or the option's name, or an unambiguous part of it."""
    answer = text.strip().rstrip(".、")
    number = int(answer) if answer.isdigit() else _CN_DIGITS.get(answer)
    if number is not None:
        if 1 <= number <= len(options):
            return options[number - 1]
        raise InvalidAnswer("choice_range")
    if answer in options:
        return answer
    partial = [o for o in options if answer and answer in o]
    if len(partial) == 1:
        return partial[0]
    raise InvalidAnswer("choice_unknown")


def parse_industry(text: str) -> str:
    return parse_choice(text, INDUSTRIES)


def parse_party_status(text: str) -> str:
    return parse_choice(text, PARTY_STATUSES)


def parse_platform(text: str) -> str:
    platform = " ".join(text.split())
    if not 1 <= len(platform) <= 30:
        raise InvalidAnswer("platform_length")
    return platform


PARSERS = {
    "name": parse_name,
    "mobile": parse_mobile,
    "industry": parse_industry,
    "platform": parse_platform,
    "party_status": parse_party_status,
}


def mask_mobile(mobile: str | None) -> str:
    """138****8000: a phone as views show it."""
    if not mobile:
        return ""
    return mobile[:3] + "****" + mobile[-4:] if len(mobile) >= 7 else "****"
