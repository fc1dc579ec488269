"""Notices' refusals, the simulator's template view, and understanding riders' own words."""

from __future__ import annotations

from typing import Any

# --- notices: why one cannot be sent (models/notice.py NoticeError codes) -----------------

NOTICE_ERRORS = {
    "title_empty": "标题不能为空",
    "title_long": "标题最多{max}个字，现在{n}个字",
    "body_empty": "正文不能为空",
    "body_long": "正文过长：微信客服消息最多约{max}字节（约660个汉字），"
                 "这条有{size}字节。请精简，或分成几条通知发送",
    "url_scheme": "链接须以 http:// 或 https:// 开头",
    "url_long": "链接最长{max}个字符",
    "industry": "没有这个行业：{industry}（可选：{options}）",
    "member_empty": "member: 后面要写至少一个 openid",
    "member_missing": "这些用户不存在或未登记：{openids}",
    "group_unknown": "没有邀请码为 {code} 的小组",
    "course_unknown": "没有课程码为 {code} 的课程",
    "audience_kind": "受众须为 all、industry:行业、group:小组码、course:课程码 或 member:openid",
    "audience_empty": "受众「{audience}」目前没有任何已登记的用户，通知未创建",
    "audience_long": "受众写得太长（最多{max}个字符）；人多时请用 industry: 或 group:",
    "naive_time": "发送时间须带时区",
    # /api/v1/notices (models.notice.submit)
    "field_required": "{field} is required (a string)",
    "url_type": "url must be a string",
    "key_long": "Idempotency-Key is at most 100 characters",
    "key_reused": "Idempotency-Key was already used for a different notice",
    "bad_time": "at 须为 ISO 8601 时间，如 2026-12-01T09:00",
    "at_range": "at 须在 2000–2100 年之间",
}
# Which form field a code speaks of (the console shows the words next to it).
NOTICE_ERROR_FIELDS = {"title_empty": "title", "title_long": "title", "body_empty": "body",
                       "body_long": "body", "url_scheme": "url", "url_long": "url",
                       "naive_time": "send_at"}


def notice_error(code: str, details: dict[str, Any]) -> str:
    return NOTICE_ERRORS.get(code, code).format(**details)


# --- the simulator: how a template push reads on its phone ----------------------------------

PUSH_KIND_NAMES = {"notice": "通知", "course_reminder": "课程提醒", "report_status": "上报进度",
                   "group_activity": "小组活动", "work_order": "工单提醒"}
# A template field's label: by the value config maps to it (models/push_values.py) …
PUSH_VALUE_LABELS = {
    "notice.title": "标题", "notice.body": "内容", "notice.time": "时间",
    "course.title": "课程", "course.start": "开始时间", "course.place": "地点",
    "course.code": "课程码", "course.what": "事项",
    "report.ticket": "单号", "report.status": "状态", "report.note": "说明",
    "report.category": "类别", "report.rate_hint": "评价", "event.time": "时间",
    "activity.topic": "活动", "activity.start": "开始时间", "activity.end": "结束时间",
    "activity.what": "事项", "activity.group": "小组", "activity.present": "到会人数",
    "order.title": "工单", "order.count": "数量", "order.ticket": "单号",
    "order.category": "类别", "order.action": "环节", "order.deadline": "办理期限",
    "order.note": "说明",
}
# … else by the field's type (fixed text, legacy rows).
TEMPLATE_PREFIX_LABELS = {"thing": "事项", "time": "时间", "date": "日期", "phrase": "状态",
                          "character_string": "编号", "number": "数量", "amount": "金额",
                          "name": "姓名", "phone_number": "电话", "car_number": "车牌",
                          "const": "说明"}

# --- understanding riders' own words (handlers/common/understand.py) -----------------------

LOW_MENU = "我还不太明白「{text}」。常用的有：\n{lines}\n发送「帮助」查看全部，或换个说法告诉我。"
OFFER_ONE = "您是想「{word}」吗？回复「是」或「{word}」，或发送「帮助」查看能做的事。"
OFFER_MANY = "您是想{words}？回复「是」选第一个，或直接发送其中的词；发送「帮助」查看能做的事。"
OFFER_PROBLEM = ("您是想上报这个问题吗：「{text}」？回复「是」开始上报（它会作为问题描述），"
                 "或发送「帮助」查看能做的事。")
OFFER_PENDING = "您是想做刚才说的事吗？"
OFFER_HOW = "回复「是」，或直接发送想做的事"
OFFER_DECLINED = "好的。发送「帮助」查看能做的事，或换个说法告诉我。"
REPORT_PREFILLED = "好的，帮您上报这个问题：「{text}」（已作为问题描述）。"
