"""Stations and check-ins, reports (随手拍)."""

from __future__ import annotations

from bot.texts.base import STEP_END, step

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
REPORT_VOICE_UNHEARD = "没听清这条语音。请把问题打字写下来（什么问题、在哪里），或者再发一次语音。"
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
# A template push's rating prompt for 已办结 (report.rate_hint: at most 20 characters).
REPORT_RATE_HINT = "回复1-5评价处理结果"
REPORT_PUSH_NEW = "新上报 {ticket}（{category}）：{text}\n回复「处理 {ticket} 说明」开始处理。"
REPORT_PUSH_REOPENED = "上报 {ticket} 被反馈「未解决」，已退回处理中，请跟进。"
TICKET_UNKNOWN = "没有单号为 {ticket} 的上报，请核对。发送「我的上报」查看您的单号。"
TICKET_USAGE = "请写单号，如「{word} R20261128-0007 {what}」。"
NOT_YOUR_GRID = "{ticket} 不在您负责的网格内。发送「待办」查看您网格的上报。"
CANNOT_MOVE = "{ticket} 现在是「{status}」，不能改为「{to}」。"
CLOSE_REASON = "关闭须写原因：重复、非职责范围 或 无法处理，如「关闭 {ticket} 重复」。"
MOVED = "已将 {ticket} 改为「{status}」，已通知上报人{backers}。"
MOVED_BACKERS = "和 {n} 位附议人"
TODO_HEADER = "【待办】{n} 件（督办、优先、逾期在前）"
TODO_LINE = "{mark}{ticket} {status} · {category} · {text}（{due}）"
TODO_OVERDUE = "⚠逾期 "
TODO_ESCALATED = "【督办】"
TODO_PRIORITY = "【优先】"
TODO_UNACKED = "待签收"
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
DIGEST_TITLE = "逾期上报日报"  # the digest push's order.title (at most 20 characters)
DIGEST_HEADER = "【逾期上报日报】{n} 件超过处理期限："
DIGEST_LINE = "{ticket} {status} · {grid} · 逾期{days}天"
