"""Cloud party groups, their activities, 小哥党校 and arrivals at either."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.texts.base import ERROR, step
from models.base import SHANGHAI

if TYPE_CHECKING:
    from models.arrival import Arrival


# --- cloud party groups (云上党小组) ----------------------------------------------------------

HELP_GROUPS = "加入小组 邀请码 / 我的小组 / 退出小组 — 云上党小组"
HELP_LEADER = "小组通知 内容 / 通知情况 — 党小组长"
GROUP_USAGE = "请发送「加入小组 邀请码」，邀请码是6位字母和数字，向党小组长索取。"
GROUP_UNKNOWN = "没有邀请码为 {code} 的小组。请向党小组长核对，再发送「加入小组 邀请码」。"
GROUP_JOINED = (
    "✅ 已加入「{name}」（{industry}）。\n党小组长：{leader} · 现有成员 {count} 人\n发送「我"
    "的小组」查看通知。"
)
GROUP_ALREADY = "您已经在「{name}」里了。发送「我的小组」查看小组。"
GROUP_MOVE = step("您现在在「{here}」。一人只能加入一个小组，确认转到「{there}」吗？",
                  "回复「确认」转入")
GROUP_MOVE_ASK = step("要转入新小组吗？", "回复「确认」转入")
GROUP_MOVED = "已从「{here}」转入「{name}」。现有成员 {count} 人。"
GROUP_NONE = ("您还没有加入云上党小组。向党小组长要邀请码，发送「加入小组 邀请码」，"
              "或扫小组二维码加入。")
GROUP_MINE = "【我的小组】{name}（{industry}）\n党小组长：{leader} · 成员 {count} 人"
GROUP_NOTICES = "最近通知："
GROUP_NOTICE_LINE = "{when} {title}：{body}"
GROUP_NO_NOTICES = "还没有小组通知。"
GROUP_LEAVE_CONFIRM = step("确认退出「{name}」吗？", "回复「确认退出」退出")
GROUP_LEAVE_WORDS = {"确认退出", "确认"}
GROUP_LEAVE_ASK = step("确认退出小组吗？", "回复「确认退出」退出")
GROUP_LEFT = "已退出「{name}」。需要时可再用邀请码加入。"
GROUP_NO_LEADER = "（暂无）"
GROUP_LEADER_UNNAMED = "已指定"  # a leader whose WeChat is not bound to a registered member
LEADER_NO_GROUP = "您的账号还没有关联小组，请管理员用 create-group 指定您为党小组长。"
GROUP_NOTICE_TITLE = "小组通知"
GROUP_NOTICE_USAGE = "请在「小组通知」后写上内容，如「小组通知 今晚8点线上学习」。"
GROUP_NOTICE_SENT = "已向「{name}」的 {n} 位成员发出通知（编号 {id}）。发送「通知情况」查看送达。"
GROUP_NOTICE_EMPTY = "「{name}」还没有成员，通知没有发出。"
GROUP_NOTICE_STATS = (
    "最近一条通知（编号 {id}）：共 {total} 人\n"
    "已送达 {sent}（客服 {kefu}，模板 {template}）· 发送中 {pending} · 未送达 {failed}"
)
GROUP_NOTICE_NONE = "您的小组还没有发过通知。发送「小组通知 内容」即可发出。"

# --- group activities (三会一课) -------------------------------------------------------------

HELP_ACTIVITY = "到 / 签到 活动码 / 请假 原因 — 小组活动考勤"
ACTIVITY_NEW = (
    "【小组活动】{what}\n活动开始前30分钟起可发送「到」签到（或「签到 {code}」），不能参加请"
    "发送「请假 原因」。"
)
ACTIVITY_MOVED = "【小组活动改期】{what}"
ACTIVITY_CANCELLED = "【小组活动取消】{what} 已取消。"
ACTIVITY_REMIND = "【活动提醒】{what}\n开始后发送「到」签到，或「签到 {code}」。"
ACTIVITY_NEXT = "下次活动：{what}"
ACTIVITY_PRESENT = "✅ 已签到：{what}\n红色积分 +3 · 现在 {points}"
ACTIVITY_ALREADY = "您已经签到过这次活动了。"
ACTIVITY_LEAVE_OK = "已请假：{what}\n原因：{reason}"
ACTIVITY_NONE = "您的小组现在没有进行中或待开始的活动，有活动时会通知您。发送「我的小组」查看小组。"
ACTIVITY_NOT_YET = "「{topic}」还没开始，{opens} 起可以发送「到」签到。"
ACTIVITY_ON_LEAVE = "您已请假（{reason}）。能来的话，到时仍可发送「到」签到。"
ACTIVITY_LEAVE_HINT = "不能参加请发送「请假 原因」。"
ACTIVITY_UNKNOWN = "没有这个活动码（{code}），请核对。发送「我的小组」查看下次活动。"
ATTEND_UNKNOWN = "没有这个活动码或课程码（{code}），请核对。发送「我的小组」或「我的课程」查看。"
LEAVE_USAGE = "请写上原因，如「请假 今晚在送单，无法参加」。"
ACTIVITY_ROLL = (
    "【考勤】{what}\n到会 {np} 人：{present}\n请假 {nl} 人：{leave}\n缺席 {na} 人：{absent}"
)
ACTIVITY_ERRORS = {
    "not_member": "您不是这个小组的成员，不能签到或请假。发送「我的小组」查看您的小组。",
    "closed": "这次活动现在不在签到时间内（开始前30分钟到结束）。发送「我的小组」查看下次活动。",
    "cancelled": "这次活动已取消。发送「我的小组」查看下次活动。",
    "started": "活动已经开始，不能再请假了；能来请发送「到」。",
    "already_present": "您已经签到了，无需请假。",
}

# --- 小哥党校 -------------------------------------------------------------------------------

HELP_SCHOOL = "课程 / 报名 课程码 / 取消报名 课程码 / 我的课程 — 小哥党校"
HELP_INSTRUCTOR = "名单 课程码 — 讲师：课程的签到名单"
COURSE_LIST_HEADER = "【小哥党校】近14天的课程（发送「报名 课程码」报名）："
COURSE_LIST_LINE = "{code}｜{what}\n  讲师 {instructor} · {hours}学时 · {seats}{mine}"
COURSE_SEATS = "余{n}座"
COURSE_FULL = "已满，可候补"
COURSE_MINE = {"enrolled": " · ✅已报名", "waitlist": " · ⏳候补中"}
COURSE_LIST_EMPTY = "近14天暂无可报名的课程，有新课会通知您。发送「我的课程」查看已报名的课程。"
COURSE_ENROLLED = (
    "✅ 报名成功：{code}{what}{link}\n开课前会提醒您；开课前30分钟起发送「签到 {code}」签到"
    "（线下课也可扫课程码）。"
)
COURSE_WAITLISTED = "课程已满，您已进入候补第{pos}位：{code}{what}\n有人退出时自动递补并通知您。"
COURSE_ALREADY = "您已报名「{title}」，无需重复报名。发送「我的课程」查看。"
COURSE_ALREADY_WAITING = "您已在「{title}」的候补名单中（第{pos}位）。"
COURSE_WITHDRAWN = "已取消报名：{code}{what}"
COURSE_LEFT_WAITLIST = "已退出候补：{code}{what}"
COURSE_UNKNOWN = "没有这个课程码（{code}）。发送「课程」查看可报名的课程。"
COURSE_WITHDRAW_USAGE = "请在「取消报名」后写上课程码，如「取消报名 DX2612A」。"
COURSE_PROMOTED = "【候补成功】有人退出，您已从候补转为正式报名：{code}{what}"
COURSE_MOVED = (
    "【课程改期】{code} 原定 {old} 开课，改为：{what}\n不能参加请发送「取消报名 {code}」。"
)
COURSE_CANCELLED = "【课程取消】{code}{what} 已取消，给您带来不便敬请谅解。"
COURSE_REMIND = (
    "【上课提醒】{code}{what}{link}\n{opens} 起发送「签到 {code}」签到（线下课也可扫课程码）。"
)
COURSE_WHERE = "【上课地点变更】{code}{what}\n新地点：{where}"
COURSE_PRESENT = "✅ 已签到：{code}{what}\n学时 +{hours} · 红色积分 +5 · 现在 {points}"
COURSE_ALREADY_PRESENT = "您已经签到过这门课了。"
COURSE_NOT_YET = "「{title}」还没到签到时间，{opens} 起发送「签到 {code}」签到。"
COURSE_MINE_HEADER = "【我的课程】累计学时 {hours}"
COURSE_MINE_LINE = "{code}｜{what}{state}"
COURSE_MINE_STATE = {"enrolled": "", "waitlist": " · 候补第{pos}位", "attended": " · ✅已签到"}
COURSE_MINE_NEXT = "下次提醒：{when}"
COURSE_MINE_EMPTY = "您还没有报名即将开始的课程。发送「课程」查看可报名的课程。"
COURSE_ROLL = "【签到名单】{code}{what}\n到课 {np} 人：{present}\n缺课 {na} 人：{absent}{waiting}"
COURSE_ROLL_WAITING = "\n候补 {nw} 人：{waitlist}"
COURSE_NOT_YOURS = "这门课不是您讲授的，看不了名单。"
COURSE_ROLL_USAGE = "请在「名单」后写上课程码，如「名单 DX2612A」。"
PROFILE_COURSES = "学时：{hours} · 已报名课程 {n} 门"
PROFILE_NEXT_COURSE = "下节课：{what}"
PROFILE_GROUP = "小组：{name}"
PROFILE_REPORTS = "进行中的上报：{reports}（发送「查询 单号」看进度）"
COURSE_ERRORS = {
    "cancelled": "这门课已取消。发送「课程」查看其他课程。",
    "started": "这门课已经开始或结束，不能再报名或取消了。发送「课程」查看其他课程。",
    "audience_mismatch": "这门课只面向指定的行业或小组，您不在范围内。发送「课程」查看其他课程。",
    "not_enrolled": "您没有报名这门课。发送「我的课程」查看已报名的课程。",
    "not_yet": "还没到签到时间（开课前30分钟起），到时发送「签到 课程码」。",
    "ended": "这门课已经结束，签到已关闭。发送「课程」查看其他课程。",
    "full_walk_in": "这门课已满，您没有座位（候补未转正），不能签到。发送「课程」查看其他课程。",
    "already_present": "您已经签到上过这门课了，不能再取消报名。发送「我的课程」查看。",
}


# 报名 by a course's title, or with nothing after it (handlers/school/chat.py).
ENROL_OPEN = "近14天可报名的课程，发送其中一行报名（也可写课程名，如「报名 {title}」）："
ENROL_PICK = "有{n}门可报名的课程对得上「{text}」，请发送其中一行报名："
ENROL_PICK_LINE = "「报名 {code}」{what}{mine}"
ENROL_MORE = "……还有{n}门，发送「课程」查看全部。"
ENROL_NO_MATCH = (
    "没有可报名的课程对得上「{text}」。发送「课程」查看可报名的课程，再发送「报名 课程码」。")


# --- arrivals (models/arrival.py): attendance at an activity or a course ------------------


def arrived(a: Arrival) -> str:
    """The words for an attendance: present, already, not yet, or the refusal's code."""
    opens = a.opens.astimezone(SHANGHAI).strftime("%m-%d %H:%M") if a.opens else ""
    if a.kind == "activity":
        if a.outcome == "present":
            return ACTIVITY_PRESENT.format(what=a.what, points=a.points)
        if a.outcome == "already":
            return ACTIVITY_ALREADY
        if a.outcome == "not_yet":
            return ACTIVITY_NOT_YET.format(topic=a.title, opens=opens)
        return ACTIVITY_ERRORS.get(a.outcome, ERROR)
    if a.outcome == "present":
        return COURSE_PRESENT.format(code=a.code, what=a.what, hours=a.hours, points=a.points)
    if a.outcome == "already":
        return COURSE_ALREADY_PRESENT
    if a.outcome == "not_yet":
        return COURSE_NOT_YET.format(title=a.title, opens=opens, code=a.code)
    return COURSE_ERRORS.get(a.outcome, ERROR)
