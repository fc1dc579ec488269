"""What the two same-work peers (werobot_work.py, asyncpg_work.py) share: their schema, the
seeded members, the message key, the replies, and the retry self-check `bench/run.py` runs
on each peer before measuring it.

The work of one callback, in ONE transaction on PostgreSQL, as the bot must do it:

1. claim the message key (the MsgId, or sender + CreateTime + event + key for an event,
   like the bot's dedup key); a key already claimed is a retry and gets the stored reply;
2. load the member by openid (first contact creates the row);
3. a message the user wrote (not an event) moves the 48 h service window
   (`last_inbound_at`);
4. a scan of `st:CODE` (SCAN, or subscribe with `qrscene_st:CODE`) of a known station
   inserts a check-in unique per (member, station, day), ON CONFLICT DO NOTHING, and adds
   a point only when the row is new; everything else gets a fixed help-like reply;
5. the reply is stored with the claim, then answered as a passive reply (encrypted when
   the request was).
"""

from __future__ import annotations

import asyncio
import hashlib
import sys
import time
import urllib.request
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
WUJIN = timezone(timedelta(hours=8))  # the check-in day is Wujin's calendar day

DDL = [
    "DROP TABLE IF EXISTS peer_checkin, peer_claim, peer_member",
    """CREATE TABLE peer_member (
        id bigserial PRIMARY KEY,
        openid text NOT NULL UNIQUE,
        points integer NOT NULL DEFAULT 0,
        last_inbound_at timestamptz,
        created_at timestamptz NOT NULL DEFAULT now())""",
    """CREATE TABLE peer_claim (
        key text PRIMARY KEY,
        reply text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now())""",
    """CREATE TABLE peer_checkin (
        member_id bigint NOT NULL REFERENCES peer_member (id),
        station text NOT NULL,
        day date NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (member_id, station, day))""",
]

# A fixed reply about as long as the bot's 帮助 (what it costs to encrypt and send matters).
HELP = ("【小哥红驿】发送以下文字即可：\n签到 — 扫驿站二维码或发送位置\n附近 — 最近的红色驿站\n"
        "我的 — 积分与签到记录\n上报 — 随手拍身边的问题\n课程 — 小哥党校课程\n"
        "任何时候发送「取消」可退出当前操作。")
CHECKED_IN = "签到成功：{name}，积分 +1（共 {points} 分）。"
ALREADY = "今天已在{name}签到过，明天再来。"
UNKNOWN_STATION = "没有找到这个驿站。"


def stations() -> dict[str, str]:
    """The demo stations the load generator scans: code → name (read once at start-up,
    as the bot caches its station list)."""
    demo = ROOT / "handlers" / "stations" / "demo_stations.yaml"
    return {r["code"]: r["name"] for r in yaml.safe_load(demo.read_text(encoding="utf-8"))}


def message_key(openid: str, msg_id: int | None, create_time: int, event: str | None,
                key: str | None) -> str:
    """The bot's dedup key: the same for WeChat's retries of one message."""
    raw = (f"m:{openid}:{msg_id}" if msg_id else
           f"e:{openid}:{create_time}:{(event or '').lower()}:{key or ''}")
    return hashlib.sha256(raw.encode()).hexdigest()[:40]


def scene_code(event: str | None, key: str | None) -> str | None:
    """The station code of a station QR scan (SCAN `st:X`, subscribe `qrscene_st:X`)."""
    event = (event or "").lower()
    if event not in ("scan", "subscribe") or not key:
        return None
    key = key.removeprefix("qrscene_")
    return key[3:] if key.startswith("st:") else None


def today() -> date:
    return datetime.now(WUJIN).date()


def asyncpg_dsn(url: str) -> str:
    """postgresql+asyncpg://… or postgresql+psycopg://… → postgresql://…"""
    return "postgresql://" + url.split("://", 1)[1]


async def _prepare(url: str, users: int) -> None:
    import asyncpg

    con = await asyncpg.connect(asyncpg_dsn(url))
    try:
        for ddl in DDL:
            await con.execute(ddl)
        await con.execute("INSERT INTO peer_member (openid) "
                          "SELECT 'o-bench' || g FROM generate_series(0, $1 - 1) g", users)
    finally:
        await con.close()


def prepare(url: str, users: int) -> None:
    """Fresh peer tables with the `users` members the load generator sends as
    (o-bench0 …), registered as the bot's are before its runs."""
    asyncio.run(_prepare(url, users))


async def _points(url: str, openid: str) -> tuple[int, int]:
    import asyncpg

    con = await asyncpg.connect(asyncpg_dsn(url))
    try:
        row = await con.fetchrow(
            "SELECT points, (SELECT count(*) FROM peer_checkin c WHERE c.member_id = m.id) "
            "FROM peer_member m WHERE openid = $1", openid)
        return (int(row[0]), int(row[1])) if row else (-1, -1)
    finally:
        await con.close()


def self_check(port: int, url: str) -> str:
    """WeChat's retries against a running peer: a scan sent three times (plain, AES, plain)
    and a text sent twice give one reply each, one check-in and one point; a first-contact
    openid gets a row. Returns "ok" or what went wrong."""
    sys.path.insert(0, str(ROOT))
    from bot.dev.peer import WechatPeer
    from bot.settings import load_settings

    w = load_settings(ROOT / "config.yaml").wechat
    peer = WechatPeer(w.token, w.app_id, w.encoding_aes_key)
    openid = f"o-peercheck{time.time_ns()}"

    def post(xml: str, mode: Any) -> str | None:
        req = peer.sign(xml, mode)
        query = "&".join(f"{k}={v}" for k, v in req.params.items())
        r = urllib.request.Request(f"http://127.0.0.1:{port}/wechat?{query}",
                                   data=req.body.encode(), method="POST",
                                   headers={"Content-Type": "text/xml"})
        with urllib.request.urlopen(r, timeout=10) as resp:
            b = resp.read().decode()
            fields = peer.read_reply(b, mode)
        return fields.get("Content") if fields else None

    code = next(iter(stations()))
    scan = peer.event(openid, "SCAN", f"st:{code}", create_time=int(time.time()))
    scans = {post(scan, m) for m in ("plain", "aes", "plain")}
    text = peer.text(openid, "帮助", msg_id=time.time_ns() // 1000)
    texts = {post(text, m) for m in ("aes", "plain")}
    points, checkins = asyncio.run(_points(url, openid))
    problems = []
    if len(scans) != 1 or None in scans:
        problems.append(f"a retried scan got {len(scans)} different replies")
    if len(texts) != 1 or None in texts:
        problems.append(f"a retried text got {len(texts)} different replies")
    if (points, checkins) != (1, 1):
        problems.append(f"three deliveries of one scan gave {points} points, "
                        f"{checkins} check-ins (1 and 1 expected)")
    return "; ".join(problems) or "ok"
