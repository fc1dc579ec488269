"""A file uploaded through a console form (multipart): read within a size limit, off the
event loop, and decoded as the command line reads its files (UTF-8, with or without a BOM)
or as Excel in Chinese saves CSV (GB18030). Each failure is one sentence for the form."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web

UPLOAD_MAX_BYTES = 1_000_000  # aiohttp refuses a larger body anyway (413)


class UploadError(ValueError):
    """The upload cannot be read as a text file; the message says why, in Chinese."""


@dataclass(frozen=True)
class Upload:
    filename: str
    text: str


async def upload_text(form: Mapping[str, Any], field: str = "file",
                      max_bytes: int = UPLOAD_MAX_BYTES) -> Upload:
    """The uploaded file's name and text, or UploadError."""
    upload = form.get(field)
    if not isinstance(upload, web.FileField):
        raise UploadError("请选择要上传的文件。")
    data = await asyncio.to_thread(upload.file.read, max_bytes + 1)
    if len(data) > max_bytes:
        raise UploadError(f"文件太大（最多 {max_bytes // 1_000_000}MB）。")
    if not data.strip():
        raise UploadError("文件是空的。")
    if b"\x00" in data or data[:4] == b"PK\x03\x04":
        raise UploadError("这不是文本文件（像是 Excel 等二进制文件）。"
                          "请另存为 CSV（UTF-8）后上传。")
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return Upload((upload.filename or "文件")[:100], data.decode(encoding))
        except UnicodeDecodeError:
            continue
    raise UploadError("无法识别文件编码，请保存为 UTF-8 编码后上传。")
