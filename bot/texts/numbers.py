"""The console's 「数据」 page and monthly report (handlers/reports/numbers.py): the names of
the numbers, their definitions in plain words (models/report_rates.py counts them so),
the workbook's sheets and columns, and the refusals."""

from __future__ import annotations

NUMBERS_TITLE = "数据"
NUMBERS_REPORT_TITLE = "武进区新就业群体随手拍月度报告 {label}"
NUMBERS_NO_DATA = "暂无数据"
NUMBERS_NO_GRID = "区级（未划网格）"
NUMBERS_BAD_MONTH = "月份应写作 YYYY-MM（如 2026-11），年份在 2000 至 2100 之间。"
NUMBERS_REFUSED = "「数据」页只对管理员和网格员开放。"
NUMBERS_MONTHLY_REFUSED = "月度报告只对管理员开放。"
NUMBERS_MET, NUMBERS_MISSED = "达标", "未达标"

# Which reports count, and how time is counted: said once at the top of the page.
NUMBERS_SCOPE = ("统计口径（本期）：按上报时间（北京时间）所在的自然月计入，即{label}1日0:00"
                 "至月末24:00之间提交的全部上报；各项状态以现在（{now}）为准。")
NUMBERS_SCOPE_OFFICER = "您是网格员，只统计您负责网格的上报。"
NUMBERS_TIME_RULE = ("时长按工作时间计算：只计工作日（周一至周五，扣除法定节假日，含调休上班日）"
                     "每天 {opens}–{closes} 之内的时间；一个工作日 = {hours:g} 个工作小时。")

# (key, name, definition): the numbers in the order the page shows them.
NUMBERS_DEFINITIONS = (
    ("resolution", "办结率", "已办结 ÷（全部上报 − 重复关闭）。重复关闭：以“重复”关闭的上报，"
     "含合并到其他工单的；它们不计入分母。"),
    ("satisfaction", "满意率", "4–5 星评价 ÷ 全部评价。只计已评价的上报（每件取最近一次评价），"
     "未评价的不计入。"),
    ("on_time", "按时办结率", "在办结期限前办结的件数 ÷ 已办结。期限含管理员批准的延期。"),
    ("ack", "签收用时", "从派单到网格员签收经过的工作小时，取中位数和第90百分位"
     "（90% 的工单不超过这个时长）。"),
    ("resolve", "办结用时", "从上报到办结经过的工作日（工作小时 ÷ 每个工作日的工作小时数），"
     "取中位数和第90百分位。"),
    ("reopen", "重新打开占比", "被重新打开过的件数（居民评 1–2 星或反馈未解决）÷ 办结过的件数"
     "（现在已办结的，加上重新打开后尚未再次办结的）。"),
    ("overdue", "逾期未办结", "本期上报中，现在仍未办结（已受理、已派单、处理中）"
     "且已过办结期限的件数。"),
    ("escalated", "督办", "本期上报中，曾因超过办结期限 {days} 个工作日仍未办结而被督办的件数。"),
)

# The tables' columns (the page, the workbook and the CSV say the same).
NUMBERS_COLUMNS = ("上报", "重复关闭", "已办结", "办结率", "满意率", "评价数", "按时办结率",
                   "签收用时中位数（工作小时）", "办结用时中位数（工作日）", "重新打开占比",
                   "逾期未办结", "督办")
NUMBERS_ESCALATED_COLUMNS = ("工单号", "网格", "类别", "状态", "办结期限", "超期（工作日）",
                             "网格员")
NUMBERS_SHEETS = ("概览", "按网格", "按类别", "按月", "督办")
NUMBERS_OVERVIEW_COLUMNS = ("指标", "数值", "说明")
NUMBERS_TARGET = "目标 {target}"
NUMBERS_GENERATED = "生成时间：{at}"
