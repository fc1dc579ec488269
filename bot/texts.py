"""Every sentence a WeChat user reads, in one place, so wording is reviewed together.

Short lines for a phone screen; each reply says what to send next.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from models.base import SHANGHAI
from models.member import INDUSTRIES, PARTY_STATUSES

if TYPE_CHECKING:
    from models.arrival import Arrival


def numbered(options: list[str]) -> str:
    return " ".join(f"{i} {name}" for i, name in enumerate(options, 1))


STEP_END = "或发送「取消」退出。"  # every dialog step's prompt ends so (bot/dialogs.py checks)


def step(question: str, how: str) -> str:
    """A dialog step's prompt: the question, then how to answer it and how to leave."""
    return f"{question}\n{how}，{STEP_END}"


# --- general -------------------------------------------------------------------------------

HELP_HEADER = "【小哥红驿】发送以下文字即可："
HELP_FOOTER = "任何时候发送「取消」可退出当前操作。"

UNKNOWN_NON_TEXT = "收到了，但这里暂时处理不了这类消息。发送「帮助」查看能做的事。"
CANCELLED = "已取消。发送「帮助」查看能做的事。"
NOTHING_TO_CANCEL = "当前没有进行中的操作。发送「帮助」查看能做的事。"
DIALOG_EXPIRED = "上次的操作超过30分钟未完成，已自动结束。"
DIALOG_NEEDS_TEXT = "请直接回复文字。"
TOP_WORDS = "常用：「签到」「附近」「上报」「我的」；全部功能发送「帮助」。"
GREETING = "您好！我是小哥红驿，随时为您服务。"
THANKS = "不客气！跑单辛苦了，路上注意安全。"
EMOJI_REPLY = "收到您的表情啦！"
HUMAN_HOTLINE = "需要人工服务，请拨打 {hotline}{hours}。也可以直接留言，工作人员会回复您。"
HUMAN_NO_HOTLINE = "需要人工服务，请直接留言说明您的问题，工作人员看到后会回复您。"
VOICE_UNHEARD = "没听清这条语音。请打字发给我，或者慢一点再说一遍。发送「帮助」查看能做的事。"
ERROR = "抱歉，系统开小差了，请稍后再试。"

# --- following -----------------------------------------------------------------------------

WELCOME = (
    "欢迎关注小哥红驿！这里是武进新就业群体的红色驿站服务号。\n"
    "发送「注册」完成登记，即可签到驿站、加入云上党小组、随手拍上报、参加小哥党校。"
)
WELCOME_BACK = "欢迎回来，{name}！发送「帮助」查看能做的事。"

# --- registration --------------------------------------------------------------------------

REG_INTRO = "先花1分钟完成登记（共6步）。"
REG_NEEDED = "这项服务需要先登记。" + REG_INTRO
REG_ALREADY = "您已完成登记。发送「我的」查看资料，发送「修改资料」可修改。"
ASK_NAME = step("第1步：请问您的姓名？", "回复姓名")
ASK_MOBILE = step("第2步：您的手机号是？", "回复11位手机号")
ASK_INDUSTRY = step("第3步：您从事哪个行业？\n" + numbered(INDUSTRIES), "回复数字")
ASK_PLATFORM = step("第4步：您所在的平台或公司？（如：美团、顺丰、滴滴）", "回复名称")
ASK_PARTY_STATUS = step("第5步：您的政治面貌？\n" + numbered(PARTY_STATUSES), "回复数字")
ASK_CONSENT = step(
    "第6步：个人信息保护说明\n"
    "· 我们保存：姓名、手机号、行业、平台、政治面貌，以及您的签到、上报和学习记录。\n"
    "· 用途：驿站服务、党组织联系、积分与学时统计；仅所在党组织和管理员可见。\n"
    "· 删除：随时发送「注销」删除个人信息。", "同意请回复「同意」，不同意回复「不同意」")
CONSENT_YES = {"同意", "是", "好", "确认", "yes", "y", "ok"}
CONSENT_NO = {"不同意", "否", "不", "no", "n"}
ASK_CONSENT_AGAIN = "请回复「同意」或「不同意」。"
REG_DECLINED = "已取消登记，您的信息没有保存。需要时可再次发送「注册」。"
REG_DONE = "登记完成，{name}！发送「帮助」查看能做的事。"
LOOKS_LIKE_COMMAND = "您正在登记，「{text}」不像是答案。"

INVALID = {
    "name_digits": "姓名里不能有数字。",
    "name_length": "姓名应为2到20个字。",
    "name_chars": "姓名只能包含汉字或字母。",
    "mobile_digits": "手机号只能是数字。",
    "mobile_length": "手机号应为11位数字。",
    "mobile_prefix": "这不是有效的手机号（应以13到19开头）。",
    "choice_range": "没有这个序号。",
    "choice_unknown": "没认出这个选项。",
    "platform_length": "平台或公司名称应为1到30个字。",
}

# --- profile -------------------------------------------------------------------------------

FIELD_NAMES = {
    "name": "姓名",
    "mobile": "手机",
    "industry": "行业",
    "platform": "平台/公司",
    "party_status": "政治面貌",
}
PROFILE = (
    "【我的】\n"
    "姓名：{name}\n"
    "手机：{mobile}\n"
    "行业：{industry} · {platform}\n"
    "政治面貌：{party_status}\n"
    "红色积分：{points}\n"
    "登记于：{registered}\n"
    "发送「修改资料」可修改。"
)
EDIT_ASK_FIELD = step("要修改哪一项？\n" + numbered(list(FIELD_NAMES.values())), "回复数字")
EDIT_ASK_VALUE = {
    "name": step("新的姓名是？", "回复姓名"),
    "mobile": step("新的手机号是？", "回复11位手机号"),
    "industry": step("请选择行业：\n" + numbered(INDUSTRIES), "回复数字"),
    "platform": step("新的平台或公司是？", "回复名称"),
    "party_status": step("请选择政治面貌：\n" + numbered(PARTY_STATUSES), "回复数字"),
}
EDIT_DONE = "已更新{field}：{value}"
EDIT_ASK_VALUE_ANY = step("要改成什么？", "回复新的内容")

ERASE_CONFIRM = step("注销将删除您的姓名、手机号等个人信息，积分清零；签到和上报记录会匿名保留。",
                     "确认请回复「确认注销」")
ERASE_WORDS = {"确认注销", "确认"}
ERASE_ASK_AGAIN = "请回复「确认注销」或「取消」。"
ERASE_DONE = "已注销，您的个人信息已删除。感谢您的参与，需要时可再次发送「注册」。"
ERASE_NOTHING = "您还没有登记，没有需要删除的个人信息。发送「注册」可以登记。"
# What 注销 leaves in the texts it keeps: for the name inside a report, for a leave reason.
ERASED_NAME = "某某"
ERASED_TEXT = "（内容已随注销删除）"

# --- staff ---------------------------------------------------------------------------------

BIND_USAGE = "请发送「绑定 绑定码」，绑定码在创建控制台账号时显示。"
BIND_DONE = "绑定成功：控制台账号 {username}（{role}）已与本微信关联。"
BIND_UNKNOWN = "绑定码不正确。请核对后重新发送「绑定 绑定码」。"
BIND_EXPIRED = "绑定码已过期（有效期10分钟），请向管理员重新获取。"
BIND_USED = "这个绑定码已经用过了。请向管理员获取新的绑定码，再发送「绑定 绑定码」。"
BIND_LOCKED = "绑定码错误次数过多，请 {minutes} 分钟后再试。"
STAFF_ONLY = "「{word}」仅限{roles}使用。如您是工作人员，请先发送「绑定 绑定码」。"
UNKNOWN_SCENE = "这个二维码已失效或无法识别。发送「帮助」查看能做的事。"

# Words of the product; an answer in a dialog that is one of these is probably not an answer.
COMMAND_WORDS = {
    "帮助", "菜单", "注册", "我的", "修改资料", "注销", "签到", "附近", "附近驿站", "我的签到",
    "加入小组", "我的小组", "退出小组", "上报", "我的上报", "评价", "课程", "报名", "取消报名",
    "我的课程", "取消", "未解决", "绑定", "小组通知", "通知情况", "待办", "个人中心",
}

HELP_HELP = "帮助 — 显示本菜单"
HELP_REGISTER = "注册 — 登记个人信息"
HELP_PROFILE = "我的 — 资料和红色积分"
HELP_EDIT = "修改资料 — 修改一项资料"
HELP_ERASE = "注销 — 删除我的个人信息"
HELP_BIND = "绑定 绑定码 — 工作人员绑定控制台账号"

# --- stations and check-ins ----------------------------------------------------------------

HELP_CHECKIN = "签到 — 扫驿站二维码，或发送位置"
HELP_NEARBY = "附近 — 找5公里内的驿站"
HELP_MY_CHECKINS = "我的签到 — 签到记录"
CHECKIN_HOW = (
    "签到有两种方式：\n"
    "1. 用微信扫驿站门口的二维码（或菜单「驿站 › 扫码签到」）；\n"
    "2. 在驿站附近发送您的位置（菜单「驿站 › 位置签到」）。"
)
CHECKIN_DONE = (
    "✅ 签到成功：{name}（{kind}）\n{open_now} · {today}\n服务：{services}\n"
    "本月第{month}次签到 · 红色积分 {points}"
)
CHECKIN_AGAIN = (
    "今天 {time} 已在「{name}」签到过了，明天再来吧。\n本月已签到{month}次 · 红色积分 {points}"
)
OPEN_NOW = "营业中"
CLOSED_NOW = "未营业"
NO_SERVICES = "—"
STATION_UNKNOWN = "没有找到这个驿站（{code}），二维码可能已失效。发送「附近」查找驿站。"
STATION_INACTIVE = "「{name}」暂停服务，这次签到没有记录。发送「附近」查找其他驿站。"
BAD_LOCATION = "这个位置信息无效，请在微信里重新发送一次位置。"
OUTSIDE_ALL = "这里不在任何驿站的签到范围内。最近的是「{name}」，约{distance}。"
NONE_NEARBY = "5公里内没有驿站。{nearest}发送「附近」可以换个位置再找。"
OUTSIDE_NONE = (
    "这里不在任何驿站的签到范围内，5公里内也没有驿站。{nearest}\n"
    "到驿站附近再发送位置即可签到；发送「附近」可以换个位置找驿站。"
)
NEAREST_FAR = "最近的驿站是「{name}」，约{distance}。"
NEARBY_ASK = step("请发送您的位置（点输入框旁的「+」›「位置」，或菜单「驿站 › 附近驿站」），"
                  "我来找附近的驿站。", "发送位置")
NEARBY_HEADER = "附近的驿站（5公里内）："
NEARBY_LINE = "{i}. {name} · {distance} · {open_now}\n   {services}"
NEARBY_MORE = f"回复「更多」看后面的，{STEP_END}"
NEARBY_END = "没有更多了。发送「附近」可以重新查找。"
NOTHING_MORE = "没有更多内容了。发送「帮助」查看能做的事。"
MY_CHECKINS_HEADER = "【我的签到】本月{month}次 · 红色积分 {points}"
MY_CHECKINS_LINE = "{when} {name}"
MY_CHECKINS_NONE = "还没有签到记录。扫驿站二维码或发送位置即可签到；发送「附近」找驿站。"
SCAN_UNKNOWN = "没认出这个二维码。驿站、小组和课程的二维码才能在这里扫。发送「帮助」查看能做的事。"

# --- reports (随手拍) ----------------------------------------------------------------------

HELP_REPORT = "上报 — 随手拍，报告街面问题"
HELP_MY_REPORTS = "我的上报 — 上报进度；查询 单号；评价 单号 1-5；未解决 单号"
HELP_OFFICER = "待办 / 处理 单号 说明 / 办结 单号 说明 / 关闭 单号 原因 — 网格员"
REPORT_ASK_DESC = step("随手拍（共4步）。第1步：请描述问题，如「湖塘花园街路灯不亮」。",
                       "回复文字或语音")
REPORT_DESC_SHORT = "描述太短了，请多说几个字：什么问题、在哪里。"
REPORT_DESC_LONG = "描述太长了，请控制在500字以内。"
REPORT_ASK_PHOTO = step("第2步：请拍一张现场照片发过来。", "发送照片，没有照片就回复「跳过」")
REPORT_ASK_LOCATION = step("第3步：问题在哪里？", "发送位置（「+」›「位置」），或直接打字写地址")
REPORT_ADDRESS_SHORT = "地址太短了，请写清楚路名或小区，或者发送位置。"
REPORT_ASK_CATEGORY = step("第4步：问题属于哪一类？\n{options}", "回复数字")
REPORT_ASK_CATEGORY_AGAIN = step("第4步：问题属于哪一类？", "回复类别前的数字")
REPORT_GUESS = step("第4步：看起来是「{category}」。不对的话改选：\n{options}",
                    "对的话回复「确认」，不对回复数字")
REPORT_DUPLICATE = step("附近50米内已有同类上报 {ticket}（{status}）：{text}\n"
                        "1 附议这条（和它一起跟进，不重复立单）\n2 仍然新建", "回复 1 或 2")
REPORT_ASK_DUPLICATE = step("附近已有同类上报：1 附议它，2 仍然新建。", "回复 1 或 2")
REPORT_SUMMARY = step("请核对：\n类别：{category}\n描述：{text}\n照片：{photo}\n位置：{place}",
                      "回复「确认」提交")
REPORT_ASK_CONFIRM = step("上报还没有提交。", "回复「确认」提交")
REPORT_OFFER_PHOTO = step("收到照片。要随手拍上报街面问题吗？照片会附上。", "回复「上报」开始")
REPORT_OFFER_VIDEO = step("收到视频。要随手拍上报街面问题吗？（视频附不上，上报时可发照片）",
                          "回复「上报」开始")
REPORT_PHOTO_KEPT = "照片已附上，共3步。"
REPORT_STATUS = "【{ticket}】{status} · {category}\n{text}\n更新于 {when}"
QUERY_USAGE = "请写单号，如「查询 R20261128-0007」。发送「我的上报」查看单号。"
NO_RATING_PENDING = "现在没有等您评分的上报。发送「我的上报」查看进度，或发送「帮助」查看能做的事。"
RATE_RANGE = "评分请用 1 到 5（5 为最满意），请回复一个数字，如「5」。"
REPORT_FILED = (
    "✅ 已受理，单号 {ticket}。{routing}\n"
    "红色积分 +2。进度会推送给您，也可发送「我的上报」查看。"
)
REPORT_ROUTED = "已派给「{grid}」网格员。"
REPORT_QUEUED = "已进入区级待分派队列。"
REPORT_BACKED = "已附议 {ticket}，处理进展会同时通知您。目前共 {count} 人附议。"
REPORT_ALREADY_BACKED = "您已经附议过 {ticket} 了。发送「查询 {ticket}」查看进度。"
REPORT_PHOTO_YES = "有"
REPORT_PHOTO_NO = "无"
MY_REPORTS_HEADER = "【我的上报】"
MY_REPORTS_LINE = "{ticket} {status} · {category} · {text}{backed}"
MY_REPORTS_BACKED = "（附议）"
MY_REPORTS_NONE = "还没有上报。发送「上报」随手拍街面问题。"
REPORT_PUSH_STATUS = "您关注的上报 {ticket} 有新进展：{status}\n说明：{note}"
REPORT_PUSH_RESOLVED = (
    "您关注的上报 {ticket} 已办结：{note}\n请回复 1-5 评价处理结果（5 为最满意）；"
    "7天内未解决可发送「未解决 {ticket}」。"
)
REPORT_PUSH_NEW = "新上报 {ticket}（{category}）：{text}\n回复「处理 {ticket} 说明」开始处理。"
REPORT_PUSH_REOPENED = "上报 {ticket} 被反馈「未解决」，已退回处理中，请跟进。"
TICKET_UNKNOWN = "没有单号为 {ticket} 的上报，请核对。发送「我的上报」查看您的单号。"
TICKET_USAGE = "请写单号，如「{word} R20261128-0007 {what}」。"
NOT_YOUR_GRID = "{ticket} 不在您负责的网格内。发送「待办」查看您网格的上报。"
CANNOT_MOVE = "{ticket} 现在是「{status}」，不能改为「{to}」。"
CLOSE_REASON = "关闭须写原因：重复、非职责范围 或 无法处理，如「关闭 {ticket} 重复」。"
MOVED = "已将 {ticket} 改为「{status}」，已通知上报人{backers}。"
MOVED_BACKERS = "和 {n} 位附议人"
TODO_HEADER = "【待办】{n} 件（逾期在前）"
TODO_LINE = "{mark}{ticket} {status} · {category} · {text}（{due}）"
TODO_OVERDUE = "⚠逾期 "
TODO_NONE = "您负责的网格没有待办的上报。"
RATED = "谢谢评价！{ticket}：{stars} 星。"
RATE_ERRORS = {
    "not_yours": "只有上报人可以查看、评价或反馈这条上报。发送「我的上报」查看您的上报。",
    "not_resolved": "这条上报还没有办结（现在：{status}），办结后会请您评价。"
                    "发送「查询 {ticket}」查看进度。",
    "rated": "这条上报已经评价过了（{rating} 星），谢谢！发送「我的上报」查看其他上报。",
    "stars": "评分请用 1 到 5（5 为最满意），如「评价 {ticket} 5」。",
    "too_late": "办结已超过7天，不能再反馈未解决；如问题仍在，请发送「上报」重新上报。",
}
REPORT_IS_CLOSED = "{ticket} 已关闭，不能再评价或反馈。如问题仍在，请发送「上报」重新上报。"
REOPEN_STILL_OPEN = ("{ticket} 还在处理中（现在：{status}），不用反馈未解决，办结后会通知您。"
                     "发送「查询 {ticket}」查看进度。")
REOPENED = "已把 {ticket} 退回处理中，并通知了网格员。"
RATE_USAGE = "请写单号和分数，如「评价 R20261128-0007 5」（1-5分，5分最满意）。"
REOPEN_USAGE = "请写单号，如「未解决 R20261128-0007」。发送「我的上报」查看单号。"
DIGEST_HEADER = "【逾期上报日报】{n} 件超过处理期限："
DIGEST_LINE = "{ticket} {status} · {grid} · 逾期{days}天"

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
                   "group_activity": "小组活动"}
PUSH_FIELD_LABELS = {
    "notice": {"thing1": "标题", "thing2": "内容", "time3": "时间"},
    "course_reminder": {"thing1": "课程", "time2": "开始时间", "thing3": "地点",
                        "thing4": "事项"},
    "report_status": {"thing1": "事项", "phrase2": "状态", "thing3": "说明", "time4": "时间",
                      "character_string2": "数量"},
    "group_activity": {"thing1": "活动", "time2": "时间", "thing2": "情况", "thing3": "事项"},
}
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
