"""Work orders (工单): the grid officers' 签收 / 退单 / 延期, and the pushes of the cycle
(models/work_order.py). Times are Asia/Shanghai, "MM-DD HH:MM"."""

from __future__ import annotations

HELP_ORDERS = "签收 单号 / 退单 单号 理由 / 延期 单号 天数 理由 — 网格员工单"

# Replies to the officer's words.
RATED_REOPENED = "谢谢评价！{ticket}：{stars} 星。已请网格员优先重新处理，办结后会再通知您。"
ORDER_ACKED = ("已签收 {ticket}，状态改为「处理中」，办理期限 {due}。"
               "办结后回复「办结 {ticket} 说明」。")
ORDER_GIVEN_BACK = "已退单 {ticket}（理由：{reason}），已退回区级待派单并通知管理员。"
ORDER_EXTENSION_ASKED = "已为 {ticket} 申请延期 {days} 个工作日，等待管理员审批；现期限 {due}。"
ORDER_EXTENSION_APPROVED_REPLY = "已批准 {ticket} 延期，新期限 {due}，已通知网格员。"
ORDER_EXTENSION_REFUSED_REPLY = "已驳回 {ticket} 的延期申请，期限仍为 {due}，已通知网格员。"
ORDER_USAGE = {
    "签收": "请写单号，如「签收 R20261128-0007」。发送「待办」查看您网格的工单。",
    "退单": "退单须写单号和理由，如「退单 R20261128-0007 不属于本网格」。",
    "延期": "延期须写单号、天数（1-30个工作日）和理由，如「延期 R20261128-0007 3天 等待配件」。",
    "批准延期": "请写单号，如「批准延期 R20261128-0007」。",
    "驳回延期": "请写单号和理由，如「驳回延期 R20261128-0007 请按期办结」。",
}
# ReportError codes of models/work_order.py → words ({ticket} and the error's details).
ORDER_ERRORS = {
    "not_your_grid": "{ticket} 不在您负责的网格内。发送「待办」查看您网格的工单。",
    "already_acked": "{ticket} 已经签收过了（现在：{status}）。",
    "wrong_status": "{ticket} 现在是「{status}」，不能这样操作。发送「待办」查看您的工单。",
    "not_open": "{ticket} 已经是「{status}」，不能再操作。",
    "no_reason": "请写明理由（至少2个字），如「退单 {ticket} 不属于本网格」。",
    "days_range": "延期天数须在 {low} 到 {high} 个工作日之间，如「延期 {ticket} 3天 等待配件」。",
    "extension_pending": "{ticket} 已有一个延期申请（{days} 个工作日）在等待审批，请等管理员处理。",
    "no_extension": "{ticket} 没有待审批的延期申请。",
    "admin_only": "只有管理员可以这样操作。",
    "same_grid": "{ticket} 已经派给「{grid}」了。",
    "merge_self": "不能把 {ticket} 合并到它自己。",
    "merge_closed": "{ticket} 已经是「{status}」，不能再合并。",
    "merge_target": "要并入的上报已经是「{status}」（或已被合并），请选另一条原始上报。",
}

# Pushes to staff (work_order) and to the reporter (report_status).
ORDER_PUSH_NEW = (
    "【派单】{ticket}（{category}）：{text}\n"
    "请于 {ack_due} 前回复「签收 {ticket}」；办理期限 {due}。"
)
ORDER_PUSH_ACK_OVERDUE = "【签收超时】{ticket}（{grid}）未按时签收，已退回区级待派单，请重新派单。"
ORDER_PUSH_RETURNED = "【退单】{ticket} 被「{grid}」退回：{reason}\n已回到区级待派单，请重新派单。"
ORDER_PUSH_EXTENSION_ASKED = "【延期申请】{ticket}（{grid}）申请延期 {days} 个工作日：{reason}"
ORDER_PUSH_EXTENSION_APPROVED = "【延期已批准】{ticket} 办理期限延至 {due}。{note}"
ORDER_PUSH_EXTENSION_REFUSED = "【延期被驳回】{ticket} 办理期限仍为 {due}，请按期办结。{note}"
ORDER_PUSH_REMIND = (
    "【催办】{ticket}（{category}）已到办理期限 {due}，请尽快办结：回复「办结 {ticket} 说明」。"
)
ORDER_PUSH_ESCALATE = ("【督办】{ticket}（{grid}）超过办理期限（{due}）{days} 个工作日"
                       "仍未办结，请督办。")
ORDER_PUSH_FOLLOW_UP = (
    "【回访】您的上报 {ticket} 已办结，对处理结果满意吗？请回复 1-5 评价（5 为最满意）；"
    "问题没解决请回复「未解决 {ticket}」。"
)
ORDER_PUSH_REOPENED = "【重办·优先】{ticket} 居民{why}，已退回处理中，请优先处理，新期限 {due}。"
ORDER_MERGED_NOTE = "与 {original} 为同一问题，已合并处理，后续进展随 {original} 推送"
# order.title per step (at most 20 characters).
ORDER_TITLES = {
    "派单": "新工单", "签收超时": "工单签收超时", "退单": "工单退单待派",
    "申请延期": "工单延期申请",
    "批准延期": "延期已批准", "驳回延期": "延期被驳回", "催办": "工单催办", "督办": "工单督办",
    "重新打开": "重办工单（优先）",
}
