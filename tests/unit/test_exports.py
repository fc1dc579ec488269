"""The console's Excel export (bot/web/exports.py): a real workbook read back with openpyxl."""

from __future__ import annotations

import io
from datetime import datetime

from openpyxl import load_workbook

from bot.web.exports import workbook


def test_a_workbook_holds_each_sheet_with_a_bold_frozen_header() -> None:
    data = workbook([("上报", ["单号", "状态", "时间", "件数"],
                      [["R20261207-0001", "已办结", datetime(2026, 12, 7, 9, 30), 3],
                       ["=cmd|' /C calc'!A0", None, None, 0]]),
                     ("网格", ["网格"], [["湖塘一网格"]])])
    book = load_workbook(io.BytesIO(data))
    assert book.sheetnames == ["上报", "网格"]
    sheet = book["上报"]
    assert [c.value for c in sheet[1]] == ["单号", "状态", "时间", "件数"]
    assert sheet["A1"].font.bold and sheet.freeze_panes == "A2"
    assert sheet["A2"].value == "R20261207-0001" and sheet["D2"].value == 3
    assert sheet["C2"].value == datetime(2026, 12, 7, 9, 30)
    # A formula a spreadsheet would run stays text.
    assert sheet["A3"].value == "'=cmd|' /C calc'!A0" and sheet["A3"].data_type == "s"
    assert sheet["B3"].value is None or sheet["B3"].value == ""
    assert book["网格"]["A2"].value == "湖塘一网格"
