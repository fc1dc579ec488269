"""Import files for the one-off commands: reading CSV, YAML and JSON files as a whole, and
an all-or-nothing import of their rows with its report on the terminal.

What a row means is the feature's business (models/*_import.py); the command line (bot/cli.py)
passes it in.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import sys
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Any, Protocol

import yaml
from sqlmodel.ext.asyncio.session import AsyncSession

Row = tuple[int, dict[str, Any]]  # (line number, the row's cells by column)
Transaction = Callable[[], AbstractAsyncContextManager[tuple[AsyncSession, datetime]]]


class FileError(Exception):
    """An import file that cannot be read as a whole."""


class ImportReport(Protocol):
    """What an import answers: the codes it added, changed and left alone, or the rows it
    rejected (line, reason) — and then it wrote nothing."""

    added: list[str]
    changed: list[str]
    unchanged: list[str]
    rejected: list[tuple[int, str]]


RowImport = Callable[[AsyncSession, list[Row], datetime], Awaitable[ImportReport]]


def _read_text(path: str) -> str:
    try:
        with open(path, encoding="utf-8-sig") as f:
            return f.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise FileError(f"无法读取 {path}：{exc}") from None


def read_rows(path: str, item: str) -> list[Row]:
    """The rows of a CSV (with a header) or YAML (a list of mappings) file, with their
    line numbers; `item` names what each row is, for the messages."""
    text = _read_text(path)
    if path.lower().endswith((".yaml", ".yml")):
        try:
            data = yaml.safe_load(text)
            nodes = yaml.compose(text)
        except yaml.YAMLError as exc:
            raise FileError(f"{path} 不是有效的 YAML：{exc}") from None
        if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
            raise FileError(f"{path} 应是一个列表，每项是一个{item}（键与 CSV 表头相同）")
        lines = [n.start_mark.line + 1 for n in nodes.value] if nodes else []
        return list(zip(lines, data, strict=True))
    try:
        reader = csv.DictReader(text.splitlines())
        rows = [(reader.line_num, {(k or "").strip(): v for k, v in row.items()})
                for row in reader]
    except csv.Error as exc:
        raise FileError(f"{path} 不是有效的 CSV：{exc}") from None
    return rows


def read_csv(path: str, columns: list[str]) -> list[Row]:
    """The rows of a CSV file whose header must be exactly `columns`, with their line
    numbers; empty cells as ""."""
    try:
        with open(path, encoding="utf-8-sig", newline="") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise FileError(f"无法读取 {path}：{exc}") from None
    return csv_rows(text, columns, path)


def csv_rows(text: str, columns: list[str], name: str = "文件") -> list[Row]:
    """A CSV text's rows (its header must be exactly `columns`), with their line numbers;
    empty cells as "". `name` says which file, for the messages (an upload is read here
    too)."""
    try:
        reader = csv.DictReader(io.StringIO(text, newline=""))
        header = [h.strip() for h in reader.fieldnames or []]
        if header != columns:
            raise FileError(f"文件表头应为 {','.join(columns)}，实际是 {','.join(header)}")
        return [(reader.line_num, {k.strip(): v or "" for k, v in row.items() if k})
                for row in reader]
    except csv.Error as exc:
        raise FileError(f"无法读取 {name}：{exc}") from None


def read_json(path: str) -> Any:
    """A JSON file's value."""
    return json_value(_read_text(path), path)


def json_value(text: str, name: str = "文件") -> Any:
    """A JSON text's value (`name` says which file, for the message)."""
    try:
        return json.loads(text)
    except ValueError as exc:
        raise FileError(f"{name} 不是有效的 JSON：{exc}") from None


def _fail(*lines: str) -> int:
    for line in lines:
        print(line, file=sys.stderr)
    return 2


async def import_rows(transaction: Transaction, path: str, item: str, columns: list[str],
                      required: list[str], do_import: RowImport) -> int:
    """A CSV or YAML file upserted by code, all or nothing: prints the report of what was
    added, changed and unchanged, or every broken row with its line and nothing written.
    Answers the command's exit code."""
    try:
        rows = await asyncio.to_thread(read_rows, path, item)
    except FileError as exc:
        return _fail(str(exc))
    if rows and (missing := [c for c in required if c not in rows[0][1]]):
        return _fail(f"缺少列：{', '.join(missing)}（表头应为 {','.join(columns)}）")
    async with transaction() as (session, now):
        report = await do_import(session, rows, now)
        if report.rejected:
            await session.rollback()  # all or nothing
    if report.rejected:
        return _fail(f"未导入任何{item}：{len(report.rejected)} 行有误。",
                     *(f"  第{line}行：{reason}" for line, reason in report.rejected))
    print(f"导入完成：新增 {len(report.added)}，更新 {len(report.changed)}，"
          f"未变 {len(report.unchanged)}。")
    for label, codes in (("新增", report.added), ("更新", report.changed)):
        if codes:
            print(f"  {label}：{'、'.join(codes)}")
    return 0
