"""Template and subscribe messages as the operator maps them in config, and filling them.

Config (`wechat.templates.KIND`, `wechat.subscribe.KIND`; KIND one of
models.push_values.KINDS):

    templates:
      report_status:
        id: <the template id WeChat gave the account>
        fields:                          # WeChat's keyword field → what fills it
          character_string1: report.ticket
          phrase2: report.status
          thing3: report.note|cut        # |cut: cut to the field's limit with "…"
          thing4: report.rate_hint
          time5: event.time
          thing6: "text:街道城管科"         # text: fixed words
        url: https://example.org/r/{report.ticket}   # optional; {value name} placeholders
    subscribe:
      report_status: {id: ..., fields: {...}, page: optional, long_term: false}

A field name is a type prefix and a number (thing1, time2, character_string3…); the values
are named in models/push_values.py. Everything is checked at start (`check_mappings`, each
problem naming its key): unknown kinds, values, fields and placeholders, `const` fields
(fixed by WeChat), a value that may not fit its field without |cut, a time or number field
fed something else. `fill` formats and cuts the values at send time.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_validator

from models import push_values as pv
from models.base import SHANGHAI

# Each keyword type's limit in characters (None: a time or date, formatted by us).
LIMITS: dict[str, int | None] = {
    "thing": 20, "character_string": 32, "phrase": 5, "number": 32, "letter": 32,
    "symbol": 5, "name": 10, "phone_number": 17, "car_number": 8, "amount": 11,
    "time": None, "date": None, "const": None,
}
TEMPLATE_VALUE_MAX = 20  # template messages since 2023: every value ≤ 20 characters
# Which kinds of value each keyword type takes.
ACCEPTS: dict[str, frozenset[str]] = {
    "thing": frozenset({"text", "time", "number", "code"}),
    "phrase": frozenset({"text"}), "name": frozenset({"text"}),
    "time": frozenset({"time"}), "date": frozenset({"time"}),
    "number": frozenset({"number"}), "amount": frozenset({"number"}),
    "character_string": frozenset({"code", "number", "time"}),
    "letter": frozenset({"code"}), "symbol": frozenset({"code"}),
    "phone_number": frozenset({"code"}), "car_number": frozenset({"code"}),
}
# What a field shows when its value is empty (a status with no note, a rating hint before
# 已办结): WeChat refuses an empty keyword in a subscribe message.
EMPTY: dict[str, str] = {"phrase": "无", "name": "无", "number": "0", "amount": "0"}
EMPTY_DEFAULT = "-"
_FIELD = re.compile(r"(?P<prefix>[a-z_]+?)(?P<n>\d+)")
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
FIXED = "text:"
CUT = "|cut"


@dataclass(frozen=True, slots=True)
class Rule:
    """One keyword field: what fills it (a value name, or fixed text) and its type."""

    field: str
    prefix: str
    value: str | None  # a value name; None: fixed text
    fixed: str = ""
    cut: bool = False


def _prefix(field: str) -> str | None:
    m = _FIELD.fullmatch(field)
    return m.group("prefix") if m and m.group("prefix") in LIMITS else None


def parse_rule(field: str, source: str) -> Rule:
    prefix = _prefix(field) or ""
    if source.startswith(FIXED):
        return Rule(field, prefix, None, source[len(FIXED):])
    name, cut = (source[: -len(CUT)], True) if source.endswith(CUT) else (source, False)
    return Rule(field, prefix, name.strip(), cut=cut)


class KindMapping(BaseModel):
    """One kind's template (or subscribe message): its id and the keyword fields' sources."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str = Field(min_length=1, max_length=128)
    fields: dict[str, str] = Field(min_length=1)
    _rules: tuple[Rule, ...] = PrivateAttr(default=())

    @model_validator(mode="before")
    @classmethod
    def _not_a_bare_id(cls, data: Any) -> Any:
        if isinstance(data, str):
            raise ValueError("a bare template id is no longer enough: write {id: ..., fields: "
                             "{<keyword field>: <value name>}} (see config.yaml)")
        return data

    def model_post_init(self, context: Any) -> None:
        self._rules = tuple(parse_rule(f, s) for f, s in self.fields.items())

    @property
    def rules(self) -> tuple[Rule, ...]:
        return self._rules

    def link(self) -> str | None:
        """The url (template) or page (subscribe) with placeholders, if any."""
        return None


class TemplateMapping(KindMapping):
    url: str | None = Field(None, max_length=1024)

    def link(self) -> str | None:
        return self.url


class SubscribeMapping(KindMapping):
    page: str | None = Field(None, max_length=1024)
    long_term: bool = False  # a long-term grant (public-service accounts), else one-time

    def link(self) -> str | None:
        return self.page


# --- checks at start -------------------------------------------------------------------------


def check_mappings(key: str, mappings: Mapping[str, KindMapping], *, template: bool
                   ) -> list[str]:
    """Every problem of `wechat.templates` / `wechat.subscribe` (`key`), one line each,
    naming its full key; [] when all is well."""
    problems: list[str] = []
    for kind, mapping in mappings.items():
        at = f"{key}.{kind}"
        if kind not in pv.CATALOGUE:
            problems.append(f"{at}: unknown kind of push; known: {', '.join(pv.KINDS)}")
            continue
        for rule in mapping.rules:
            problems += [f"{at}.fields.{rule.field}: {p}"
                         for p in _rule_problems(kind, rule, template)]
        link = mapping.link()
        for name in _PLACEHOLDER.findall(link or ""):
            if pv.spec(kind, name) is None:
                problems.append(f"{at}.{'url' if template else 'page'}: unknown placeholder "
                                f"{{{name}}}; {kind} has {_names(kind)}")
    return problems


def _names(kind: str) -> str:
    return ", ".join(pv.CATALOGUE[kind])


def _limit(prefix: str, template: bool) -> int | None:
    limit = LIMITS.get(prefix)
    if template and limit is not None:
        limit = min(limit, TEMPLATE_VALUE_MAX)
    return limit


def _rule_problems(kind: str, rule: Rule, template: bool) -> list[str]:
    if not rule.prefix:
        return [f"not a WeChat keyword field name (a type such as {', '.join(ACCEPTS)} "
                "followed by a number, e.g. thing1)"]
    if rule.prefix == "const":
        return ["const fields are fixed by WeChat and cannot be mapped; leave it out"]
    limit = _limit(rule.prefix, template)
    if rule.value is None:
        return _fixed_problems(rule, limit)
    spec = pv.spec(kind, rule.value)
    if spec is None:
        return [f"unknown value {rule.value!r} for {kind}; known: {_names(kind)}"]
    if spec.kind not in ACCEPTS[rule.prefix]:
        wanted = " or ".join(sorted(ACCEPTS[rule.prefix]))
        return [f"a {rule.prefix} field takes a {wanted} value; {rule.value} is {spec.kind}"]
    if limit is not None and not rule.cut and spec.kind != "time" and (
            spec.max_len is None or spec.max_len > limit):
        most = "unbounded" if spec.max_len is None else f"up to {spec.max_len} characters"
        return [f"{rule.value} is {most} but a {rule.prefix} field holds {limit}; "
                f"write {rule.value}|cut to cut it with …"]
    return []


def _fixed_problems(rule: Rule, limit: int | None) -> list[str]:
    text = rule.fixed
    if not text.strip() or "\n" in text or "\r" in text:
        return ["fixed text must be one line and not empty"]
    if rule.prefix in ("time", "date", "number", "amount"):
        return [f"a {rule.prefix} field cannot hold fixed text; map a value"]
    if limit is not None and len(text) > limit:
        return [f"fixed text is {len(text)} characters; a {rule.prefix} field holds {limit}"]
    if rule.prefix == "phrase" and not all(_is_han(c) for c in text):
        return ["a phrase field takes only Chinese characters"]
    return []


# --- filling at send time ----------------------------------------------------------------------


def _is_han(ch: str) -> bool:
    return "\u4e00" <= ch <= "\u9fff" or "\u3400" <= ch <= "\u4dbf"


def _one_line(text: str) -> str:
    """No line breaks or other control characters; runs of space as one."""
    text = "".join(" " if unicodedata.category(c).startswith("C") else c for c in text)
    return " ".join(text.split())


def _time(value: str) -> datetime | None:
    try:
        return datetime.fromisoformat(value).astimezone(SHANGHAI)
    except (ValueError, TypeError):
        return None


def _format(prefix: str, value: str) -> str:
    """A stored value as the field shows it: times formatted, a phrase Chinese only."""
    at = _time(value) if prefix in ("time", "date", "thing", "character_string") else None
    if at is not None and ("T" in value or prefix in ("time", "date")):
        if prefix == "date":
            return at.strftime("%Y年%m月%d日")
        if prefix == "character_string":
            return at.strftime("%Y-%m-%d %H:%M")
        return at.strftime("%Y年%m月%d日 %H:%M")
    value = _one_line(value)
    if prefix == "phrase":
        return "".join(c for c in value if _is_han(c))
    if prefix in ("number", "amount"):
        return "".join(c for c in value if c.isdigit() or c == ".")
    return value


def cut(text: str, limit: int | None, ellipsis: bool = True) -> str:
    if limit is None or len(text) <= limit:
        return text
    return text[: limit - 1] + "…" if ellipsis and limit > 1 else text[:limit]


def fill(mapping: KindMapping, values: Mapping[str, str], *, template: bool
         ) -> dict[str, dict[str, str]]:
    """The `data` of a template (template=True) or subscribe message: each mapped field's
    value, formatted and cut to WeChat's limit for its type (a template's ≤ 20), on one
    line. Legacy rows (WeChat field names, not value names) are sent as they are."""
    if not pv.is_values(dict(values)):
        return {k: {"value": str(v)} for k, v in values.items()}
    out: dict[str, dict[str, str]] = {}
    for rule in mapping.rules:
        raw = rule.fixed if rule.value is None else str(values.get(rule.value) or "")
        text = _format(rule.prefix, raw) or EMPTY.get(rule.prefix, EMPTY_DEFAULT)
        limit = _limit(rule.prefix, template)
        if template and limit is None:
            limit = TEMPLATE_VALUE_MAX
        # Only Chinese characters in a phrase, only digits in a number: no "…".
        out[rule.field] = {"value": cut(text, limit,
                                        rule.prefix not in ("phrase", "number", "amount"))}
    return out


def link(mapping: KindMapping, values: Mapping[str, str], fallback: str | None
         ) -> str | None:
    """The mapping's url/page with its {value name} placeholders filled (URL-quoted), else
    the push's own link (`fallback`)."""
    pattern = mapping.link()
    if not pattern or not pv.is_values(dict(values)):
        return fallback
    return _PLACEHOLDER.sub(lambda m: quote(str(values.get(m.group(1)) or ""), safe=""),
                            pattern)
