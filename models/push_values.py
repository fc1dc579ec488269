"""What a push says, as named values: the catalogue per kind of push. Pure — no I/O.

A producer stores a push's values in its outbox row (`template_data`): {value name: string}.
Which of them a template or subscribe message shows, and in which keyword field, is the
operator's choice in config (`wechat.templates.KIND.fields`, `wechat.subscribe.KIND.fields`;
checked at start and filled at send time in bot/wechat/templates.py).

Each value has a spec: its kind (text, time, number or code) and the most characters it
can hold (None: unbounded). Times are stored as ISO 8601 with their offset
(`iso_time`) and formatted when filled. A value may be empty ("" or left out): e.g.
`report.rate_hint` is only set for 已办结.

A row whose keys are not value names (written before the catalogue: WeChat field names
such as thing1) is legacy data and is sent as it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from models.base import SHANGHAI

ValueKind = Literal["text", "time", "number", "code"]


@dataclass(frozen=True, slots=True)
class ValueSpec:
    kind: ValueKind
    max_len: int | None  # characters at most; None: unbounded
    sample: str  # what `run.py templates` fills a sample push with


def _t(max_len: int | None, sample: str) -> ValueSpec:
    return ValueSpec("text", max_len, sample)


_TIME = "2026-12-07T15:00:00+08:00"
TIME = ValueSpec("time", None, _TIME)  # ISO 8601 with offset; formatted at fill time

# The rating prompt a resolved report's push carries (report.rate_hint), at most this long.
RATE_HINT_MAX = 20
# A work order's headline (order.title), at most this long.
ORDER_TITLE_MAX = 20

CATALOGUE: dict[str, dict[str, ValueSpec]] = {
    "notice": {
        "notice.title": _t(40, "明日8:00-12:00驿站停水检修"),
        "notice.body": _t(None, "请提前储水，饮水机暂停使用，给您带来不便敬请谅解。"),
        "notice.time": TIME,
    },
    "course_reminder": {
        "course.title": _t(60, "电动车安全驾驶与交通法规"),
        "course.start": TIME,
        "course.place": _t(120, "湖塘镇党群服务中心三楼"),
        "course.code": ValueSpec("code", 16, "K1207"),
        "course.what": _t(20, "课前提醒"),  # 课前提醒, 改期, 地点变更, 取消, 候补转正
    },
    "report_status": {
        "report.ticket": ValueSpec("code", 20, "R20261207-0012"),
        "report.status": _t(5, "已办结"),  # 已受理, 已派单, 处理中, 已办结, 已关闭
        "report.note": _t(None, "井盖已更换，道路恢复通行"),
        "report.category": _t(16, "公共设施"),
        "report.rate_hint": _t(RATE_HINT_MAX, "回复1-5评价处理结果"),  # only with 已办结
        "event.time": TIME,
    },
    "group_activity": {
        "activity.topic": _t(60, "学习新修订的安全生产法"),
        "activity.start": TIME,
        "activity.end": ValueSpec("time", None, "2026-12-07T16:30:00+08:00"),
        "activity.what": _t(20, "新活动"),  # 新活动, 活动改期, 活动取消, 活动提醒, 到会统计
        "activity.group": _t(40, "湖塘骑手党小组"),
        "activity.present": ValueSpec("number", 6, "12"),  # the roll only
    },
    "work_order": {
        "order.title": _t(ORDER_TITLE_MAX, "逾期上报日报"),
        "order.count": ValueSpec("number", 6, "3"),
        "order.ticket": ValueSpec("code", 20, "R20261205-0003"),  # the first (most overdue)
        "order.category": _t(16, "道路交通"),
        # One work order's step (派单, 签收超时, 退单, 申请延期, 批准延期, 驳回延期, 催办,
        # 督办, 重新打开…), its handling deadline and the step's note (reason, grid…).
        "order.action": _t(8, "催办"),
        "order.deadline": ValueSpec("time", None, "2026-12-09T17:30:00+08:00"),
        "order.note": _t(None, "已到办理期限，请尽快办结"),
        "event.time": TIME,
    },
}
KINDS = tuple(CATALOGUE)


def spec(kind: str, name: str) -> ValueSpec | None:
    return CATALOGUE.get(kind, {}).get(name)


def samples(kind: str) -> dict[str, str]:
    """A realistic push of `kind`, every value set."""
    return {name: s.sample for name, s in CATALOGUE[kind].items()}


def is_values(data: dict[str, str]) -> bool:
    """Whether a stored row holds value names (else legacy WeChat field names: sent as is).
    Value names have a dot; WeChat's keyword names never do."""
    return any("." in key for key in data)


def iso_time(at: datetime) -> str:
    """A time value: ISO 8601 in Asia/Shanghai, with its offset, to the minute."""
    return at.astimezone(SHANGHAI).replace(second=0, microsecond=0).isoformat()
