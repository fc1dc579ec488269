"""The console's words for work orders (工单): the reports pages' steps (派单, 签收, 退单,
延期, 批准/驳回延期, 合并), their form errors, refusals, done messages, badges and the
queue's filters (handlers/reports/steps.py, handlers/reports/order_view.py)."""

from __future__ import annotations

# The queue's work-order filters (the `stage` query value → label).
ORDER_STAGES = {
    "queue": "待派单", "unacked": "待签收", "working": "处理中", "extension": "延期待批",
    "escalated": "督办", "returned": "已退单", "priority": "优先",
}
ORDER_STAGE_ALL = "全部环节"

# Badges on a report.
BADGE_PRIORITY, BADGE_ESCALATED, BADGE_RETURNED = "优先", "督办", "已退单"
BADGE_OVERDUE, BADGE_UNACKED, BADGE_EXTENSION = "逾期", "待签收", "延期待批"
BADGE_ACK_LATE = "签收超时"
EXTENSION_STATES = {"pending": "待审批", "approved": "已批准", "refused": "已驳回"}
DISTRICT_QUEUE = "区级待派单"

# Who may do a step: the 403 page's message for anyone else.
ORDER_REFUSED = {
    "dispatch": "只有管理员可以派单或改派。",
    "ack": "只有本网格的网格员可以签收。",
    "return": "只有本网格的网格员可以退单。",
    "extend": "只有本网格的网格员可以申请延期。",
    "decide": "只有管理员可以审批延期申请。",
    "merge": "只有管理员或本网格的网格员可以合并上报。",
}

# Form errors, shown beside the field.
FORM_GRID = "请选择要派往的网格。"
FORM_GRID_UNKNOWN = "没有这个网格，请从列表中选择。"
FORM_REASON = "请写明理由（至少 {n} 个字）。"
FORM_REASON_LONG = "理由最多 {n} 字（现在 {length} 字）。"
FORM_DAYS = "延期天数须是 {low} 到 {high} 之间的整数（个工作日）。"
FORM_DECISION = "请选择批准或驳回。"
FORM_NOTE_LONG = "说明最多 {n} 字（现在 {length} 字）。"
FORM_REFUSE_NOTE = "驳回须写明说明（至少 {n} 个字），网格员会收到这段话。"
FORM_ORIGINAL = "请填写原始上报的单号，如 R20261128-0007。"
FORM_ORIGINAL_UNKNOWN = "找不到单号 {ticket}，或它不在您能查看的范围内。"

# After a step (the page it lands on says so).
ORDER_DONE = {
    "dispatch": "已将 {ticket} 派往「{grid}」，已通知该网格的网格员和上报人。",
    "ack": "已签收 {ticket}，状态改为「处理中」，办理期限 {due}。",
    "return": "已退单 {ticket}，已回到区级待派单并通知管理员。",
    "extend": "已为 {ticket} 申请延期 {days} 个工作日，等待管理员审批。",
    "approve": "已批准 {ticket} 延期，新期限 {due}，已通知网格员。",
    "refuse": "已驳回 {ticket} 的延期申请，期限仍为 {due}，已通知网格员。",
    "merge": "已将 {ticket} 并入 {original}；它的上报人和附议人今后随 {original} 收到进展。",
}
# A second submit that finds the step already done.
ORDER_ALREADY = {
    "dispatch": "{ticket} 已经派给「{grid}」了，无需重复派单。",
    "ack": "{ticket} 已经签收过了，现在是「{status}」。",
    "return": "{ticket} 已经退单，已回到区级待派单。",
    "extend": "{ticket} 的延期申请（{days} 个工作日）已提交，正在等待管理员审批。",
    "decide": "{ticket} 的延期申请已经处理过了（{state}）。",
    "merge": "{ticket} 已经并入 {original}。",
}
ALREADY_MOVED = "{ticket} 已经是「{status}」了，无需重复提交。"

# What a 合并 will do, shown before it is confirmed.
MERGE_PREVIEW = ("确认后：{ticket} 改为「已关闭」（原因：重复），标记为并入 {original}；"
                 "{ticket} 的上报人和附议人（共 {people} 人）成为 {original} 的附议人，"
                 "今后 {original} 的每次进展都会推送给他们；现在会通知他们已合并。")
