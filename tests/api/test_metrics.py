"""/metrics: what a Prometheus scrape sees after real callbacks and pushes."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from prometheus_client import REGISTRY

from models import due
from tests.conftest import Bot


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_callbacks_dedup_rejections_and_the_outbox_are_counted(bot: Bot) -> None:
    before = {
        "help": value("xiaoge_callbacks_total", kind="text", outcome="replied"),
        "dup": value("xiaoge_dedup_hits_total"),
        "dup_cb": value("xiaoge_callbacks_total", kind="text", outcome="duplicate"),
        "bad": value("xiaoge_callbacks_rejected_total", status="403"),
        "hist": value("xiaoge_handler_seconds_count", kind="text"),
    }
    p = bot.phone("o-metrics")
    xml = bot.peer.text("o-metrics", "帮助", create_time=bot.now_ts, msg_id=7_700_001)
    await p.send(xml)
    await p.send(xml)  # WeChat's retry
    resp = await bot.client.post("/wechat", params={"signature": "x", "timestamp": "1",
                                                    "nonce": "n"}, data=b"<xml/>")
    assert resp.status == 403
    scrape = await bot.client.get("/metrics")
    assert scrape.status == 200
    text = await scrape.text()
    assert "xiaoge_outbox_depth" in text and "xiaoge_handler_seconds_bucket" in text
    assert "o-metrics" not in text  # no openids in labels
    assert value("xiaoge_callbacks_total", kind="text", outcome="replied") == before["help"] + 1
    assert value("xiaoge_callbacks_total", kind="text", outcome="duplicate") == before[
        "dup_cb"] + 1
    assert value("xiaoge_dedup_hits_total") == before["dup"] + 1
    assert value("xiaoge_callbacks_rejected_total", status="403") == before["bad"] + 1
    assert value("xiaoge_handler_seconds_count", kind="text") == before["hist"] + 2


async def test_an_event_is_labelled_by_its_name(bot: Bot) -> None:
    before = value("xiaoge_callbacks_total", kind="event:subscribe", outcome="replied")
    await bot.phone("o-follow").event("subscribe")
    assert value("xiaoge_callbacks_total", kind="event:subscribe",
                 outcome="replied") == before + 1


def test_json_log_lines_mask_phones_and_carry_the_request_id() -> None:
    import io
    import json
    import logging

    from bot import logs

    logs.setup(json_lines=True)
    stream = io.StringIO()
    handler = logging.getLogger().handlers[0]
    handler.setStream(stream)  # type: ignore[attr-defined]
    try:
        rid = logs.new_request_id()
        logging.getLogger("bot.test").info("member %s wrote from 13800138000", logs.anon("o-x"))
        line = json.loads(stream.getvalue().strip().splitlines()[-1])
    finally:
        logs.setup()
    assert line["request_id"] == rid and line["level"] == "INFO"
    assert "138****8000" in line["msg"] and "13800138000" not in line["msg"]
    assert "o-x" not in line["msg"]


async def test_due_pushes_and_a_late_one_show_in_the_scrape(bot: Bot, sessions: Any) -> None:
    """A due push no process can send shows as pending and late, not only in a log."""
    now = bot.clock.now()
    async with sessions() as s, s.begin():
        await due.plan(s, "unknown_kind", "x:1", "1", now - timedelta(minutes=5))
        await due.plan(s, "unknown_kind", "x:1", "2", now + timedelta(hours=1))
    assert (await bot.client.get("/metrics")).status == 200
    assert value("xiaoge_due_pushes", status="pending") == 2
    assert value("xiaoge_due_oldest_late_seconds") == 300
