"""An operator's own template mapping, end to end: a report's 办结 outside the 客服 window
reaches the reporter as a template message through the sandbox over HTTP, its keyword
fields the operator's names, carrying the rating hint; the overdue digest is a work_order."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot import texts as T
from bot.app import SERVICES
from bot.clock import SHANGHAI, FakeClock
from bot.settings import Settings, load_settings
from tests.api.test_open311 import IN_XY, MOBILE, NAME, OPENID, start_city
from tests.api.test_reports_api import api
from tests.chat.test_reports import file_report, pushes, ticket_of
from tests.conftest import Bot, Sandbox

ROOT = Path(__file__).resolve().parents[2]
# A template from WeChat's library, as an operator maps it: its own field names.
OPERATOR_MAPPING = {
    "id": "op-TM00123-report",
    "fields": {"character_string7": "report.ticket", "phrase12": "report.status",
               "thing11": "report.note|cut", "thing9": "report.rate_hint",
               "time4": "event.time", "thing5": "text:湖塘街道城管科"},
    "url": "https://wx.example.org/report/{report.ticket}",
}


@pytest.fixture
def operator_settings(settings: Settings, tmp_path: Path) -> Settings:
    data = yaml.safe_load((ROOT / "config.yaml").read_text(encoding="utf-8"))
    data["wechat"]["templates"]["report_status"] = OPERATOR_MAPPING
    path = tmp_path / "operator.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return load_settings(path, database={"url": settings.database.url},
                         wechat={"api_base_url": settings.wechat.api_base_url},
                         reports={"photo_dir": settings.reports.photo_dir})


@pytest.fixture
async def city(operator_settings: Settings, clock: FakeClock, sandbox: Sandbox,
               sessions: Any) -> AsyncIterator[Bot]:
    bot, client = await start_city(operator_settings, clock, sandbox, sessions)
    yield bot
    await client.close()


async def drain(bot: Bot) -> None:
    worker = bot.client.server.app[SERVICES].worker
    assert worker is not None
    assert await worker.drain(timeout_s=20)


async def test_resolved_outside_the_window_is_the_operators_template(city: Bot,
                                                                    sessions: Any) -> None:
    bot = city
    await bot.phone(OPENID).register(name=NAME, mobile=MOBILE)
    ticket = ticket_of(await file_report(bot, OPENID, "花园街井盖破损，晚上很危险",
                                         where=IN_XY))
    bot.clock.advance(hours=49)  # the reporter's 客服 window has closed
    a = api(bot)
    note = "井盖已更换，道路恢复通行，感谢您的耐心等待与支持"
    status, _ = await a.move(ticket, status="处理中", note="已派人查看")
    assert status == 200
    bot.clock.advance(hours=2)
    status, _ = await a.move(ticket, status="已办结", note=note)
    assert status == 200
    await drain(bot)

    templates = [m for m in bot.sandbox.delivered(OPENID) if m["channel"] == "template"]
    assert [m["template_id"] for m in templates] == ["op-TM00123-report"] * 2
    doing, done = templates
    assert set(done["data"]) == set(OPERATOR_MAPPING["fields"])  # the operator's names
    values = {k: v["value"] for k, v in done["data"].items()}
    assert values["character_string7"] == ticket
    assert values["phrase12"] == "已办结"
    assert values["thing11"] == note[:19] + "…"
    assert values["thing9"] == T.REPORT_RATE_HINT == "回复1-5评价处理结果"
    assert values["thing5"] == "湖塘街道城管科"
    assert values["time4"] == bot.clock.now().astimezone(SHANGHAI).strftime("%Y年%m月%d日 %H:%M")
    assert done["url"] == f"https://wx.example.org/report/{ticket}"
    assert all(len(v) <= 20 and "\n" not in v for v in values.values())
    # Before 已办结 there is nothing to rate (WeChat refuses an empty keyword: a placeholder).
    assert doing["data"]["phrase12"] == {"value": "处理中"}
    assert doing["data"]["thing9"] == {"value": "-"}
    # The outbox stores values, not fields; the 客服 text is the same as ever.
    told = await pushes(sessions, OPENID)
    assert told[-1].template_data["report.rate_hint"] == T.REPORT_RATE_HINT
    assert told[-1].template_data["report.ticket"] == ticket
    assert told[-1].text == T.REPORT_PUSH_RESOLVED.format(ticket=ticket, note=note)
    # The hint works: a bare 4 rates it.
    assert await bot.phone(OPENID).say("4") == T.RATED.format(ticket=ticket, stars="4")


async def test_the_sandbox_refuses_what_wechat_refuses(city: Bot) -> None:
    bot = city
    api_client = bot.client.server.app[SERVICES].api
    assert api_client is not None
    await bot.phone("o-plain").register()
    from bot.wechat.client import WechatError

    for bad in ("二" * 21, "两行\n文字"):
        with pytest.raises(WechatError) as err:
            await api_client.send_template("o-plain", "op-TM00123-report", {"thing1": bad})
        assert err.value.errcode == 47003
    assert await api_client.send_template("o-plain", "op-TM00123-report",
                                          {"thing1": "二" * 20})
