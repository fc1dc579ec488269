"""`run.py templates`: per kind of push, the values it carries, the template (and subscribe
message) config maps it to, and exactly what a sample push of that kind would fill.

A bad mapping never gets here: load_settings refuses it with the key named (exit 2)."""

from __future__ import annotations

import argparse

from bot import texts as T
from bot.settings import Settings
from bot.wechat import templates as tmpl
from models import push_values as pv


def add_templates(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sub.add_parser("templates", help="show each kind's template mapping, filled with a sample")


_VALUE_KINDS = {"text": "文字", "time": "时间", "number": "数字", "code": "编号"}


def _spec(name: str, spec: pv.ValueSpec) -> str:
    label = T.PUSH_VALUE_LABELS.get(name, "")
    what = _VALUE_KINDS.get(spec.kind, spec.kind)
    limit = f"，≤{spec.max_len}字" if spec.max_len is not None and spec.kind != "time" else ""
    return f"{name} {label}（{what}{limit}）"


def _filled(mapping: tmpl.KindMapping, values: dict[str, str], *, template: bool
            ) -> list[str]:
    lines = [f"    {field} = {v['value']}"
             for field, v in tmpl.fill(mapping, values, template=template).items()]
    link = tmpl.link(mapping, values, None) or "未设置（用推送自带的链接，如有）"
    lines.append(f"    {'url' if template else 'page'} = {link}")
    return lines


def describe(settings: Settings) -> list[str]:
    """The lines `run.py templates` prints: per kind, its values, then each configured
    template filled with a sample push."""
    out: list[str] = []
    for kind in pv.KINDS:
        values = pv.samples(kind)
        out.append(f"{kind}（{T.PUSH_KIND_NAMES.get(kind, kind)}）")
        out.append("  可用的值：" + "、".join(_spec(n, s)
                                           for n, s in pv.CATALOGUE[kind].items()))
        template = settings.wechat.templates.get(kind)
        if template is None:
            out.append("  模板消息：未配置（在客服窗口外又无订阅通知授权时无法送达）")
        else:
            out.append(f"  模板消息 {template.id}")
            out += _filled(template, values, template=True)
        sub = settings.wechat.subscribe.get(kind)
        if sub is None:
            out.append("  订阅通知：未配置")
        else:
            out.append(f"  订阅通知 {sub.id}（{'长期' if sub.long_term else '一次性'}）")
            out += _filled(sub, values, template=False)
        out.append("")
    return out


def show(settings: Settings) -> int:
    print("\n".join(describe(settings)).rstrip())
    return 0
