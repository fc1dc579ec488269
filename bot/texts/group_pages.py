"""The console's words for 云上党小组 and their 三会一课 activities (handlers/groups/): what a
form says beside a field it cannot take, and what a page says after a change."""

from __future__ import annotations

# --- a group's form: the reason codes of models/group.py, by field -----------------------------

GROUP_FORM_ERRORS: dict[str, tuple[str, str]] = {
    "name_length": ("name", "小组名称须为2到40个字。"),
    "industry": ("industry", "请从列表中选择一个行业。"),
    "name_taken": ("name", "已有同名的小组，请换一个名称。"),
    "leader": ("leader", "请从列表中选择一个党小组长账号。"),
}
GROUP_FORM_FIX = "请按提示修改后再提交。"
GROUP_CREATED = "已创建小组「{name}」，邀请码 {code}。"
GROUP_SAVED = "已保存小组信息。"
GROUP_RECODED = "已生成新的邀请码 {code}，旧邀请码已失效：成员再用旧码加入会被拒绝。"
GROUP_FORM_NO_LEADER = "不指定组长"
GROUP_FORM_KEEP_NO_LEADER = "暂不指定（保持没有组长）"
GROUP_MEMBERS_NONE_FOUND = "没有姓名含「{q}」或手机尾号为「{q}」的成员。"

# --- an activity's forms: the reason codes of models/activity.py, by field --------------------

ACTIVITY_FORM_ERRORS: dict[str, tuple[str, str]] = {
    "kind": ("kind", "请从三会一课中选择活动类型。"),
    "topic": ("topic", "主题须为2到60个字。"),
    "past": ("start", "开始时间须晚于现在。"),
    "times": ("end", "结束时间须晚于开始时间，且活动最长12小时。"),
    "cancelled": ("form", "这次活动已取消，不能再改期或取消。"),
}
ACTIVITY_TIME_BAD = "请填写时间（年-月-日 时:分，北京时间）。"
ACTIVITY_LATLNG_BAD = "纬度和经度须一起填写，且是有效的坐标（如 31.7093 和 119.9512）。"
ACTIVITY_RADIUS_BAD = "签到半径须为10到5000米的整数。"
ACTIVITY_URL_BAD = "线上链接须以 http:// 或 https:// 开头，最多512个字符。"
ACTIVITY_PLACE_LONG = "地点最多{n}个字。"
ACTIVITY_REASON_BAD = "请写明取消原因（2到100个字），会一并通知成员。"
ACTIVITY_SCHEDULED = "已安排活动，已通知小组成员；活动前会按时提醒。"
ACTIVITY_MOVED_OK = "已改期，已通知小组成员；提醒已按新时间重新安排。"
ACTIVITY_CANCELLED_OK = "已取消活动，已通知小组成员。"
ACTIVITY_CANCELLED_WHY = "【小组活动取消】{what} 已取消。原因：{reason}"
ACTIVITY_STATUS = {"scheduled": "待开展", "cancelled": "已取消", "running": "进行中",
                   "ended": "已结束"}

PHONE_TAIL_ONLY = "只能按手机尾号后4位搜索"
