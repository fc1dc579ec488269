"""Peer (g): aiohttp + wechatpy + a raw asyncpg pool, every statement prepared once per
connection, doing the same work as the bot's keyword reply and scan check-in (the work and
the schema: peer_work.py). On uvloop, as the bot runs.

    python bench/baselines/asyncpg_work.py --port 8085 \\
        --db postgresql://postgres@127.0.0.1:5432/bench_peers
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from typing import Any

import asyncpg
import yaml
from aiohttp import web
from peer_work import (
    ALREADY,
    CHECKED_IN,
    HELP,
    ROOT,
    UNKNOWN_STATION,
    asyncpg_dsn,
    message_key,
    scene_code,
    stations,
    today,
)
from wechatpy import create_reply, parse_message
from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidSignatureException
from wechatpy.utils import check_signature

_W = yaml.safe_load((ROOT / "config.yaml").read_text(encoding="utf-8"))["wechat"]
CRYPTO = WeChatCrypto(_W["token"], _W["encoding_aes_key"], _W["app_id"])
STATIONS = stations()
POOL = web.AppKey("pool", asyncpg.Pool)

SQL = {
    # The keyword reply is known up front: claimed with its reply in one statement.
    "claim": "INSERT INTO peer_claim (key, reply) VALUES ($1, $2) "
             "ON CONFLICT (key) DO NOTHING RETURNING 1",
    "stored": "SELECT reply FROM peer_claim WHERE key = $1",
    "set_reply": "UPDATE peer_claim SET reply = $2 WHERE key = $1",
    # A message the user wrote: load the member, first contact creates it, the window moves.
    "member_input": "INSERT INTO peer_member (openid, last_inbound_at) VALUES ($1, now()) "
                    "ON CONFLICT (openid) DO UPDATE SET last_inbound_at = "
                    "excluded.last_inbound_at RETURNING id, points",
    # An event: load the member; first contact creates it (no window).
    "member": "SELECT id, points FROM peer_member WHERE openid = $1",
    "member_new": "INSERT INTO peer_member (openid) VALUES ($1) "
                  "ON CONFLICT (openid) DO NOTHING RETURNING id, points",
    "checkin": "INSERT INTO peer_checkin (member_id, station, day) VALUES ($1, $2, $3) "
               "ON CONFLICT DO NOTHING RETURNING 1",
    "point": "UPDATE peer_member SET points = points + 1 WHERE id = $1 RETURNING points",
}


async def prepare_statements(con: asyncpg.Connection) -> None:
    """Each statement prepared once, when the pool opens the connection: asyncpg keeps them
    in the connection's statement cache, so a query by the same text runs the prepared
    statement (Bind/Execute, no Parse)."""
    for sql in SQL.values():
        await con.prepare(sql)


async def load_member(con: asyncpg.Connection, openid: str, is_input: bool) -> asyncpg.Record:
    if is_input:
        return await con.fetchrow(SQL["member_input"], openid)
    row = await con.fetchrow(SQL["member"], openid)
    if row is None:
        row = await con.fetchrow(SQL["member_new"], openid)
    if row is None:  # created by a concurrent first contact
        row = await con.fetchrow(SQL["member"], openid)
    return row


async def work(pool: asyncpg.Pool, msg: Any) -> str:
    is_event = msg.type == "event"
    event, key = (msg._data.get("Event"), msg._data.get("EventKey")) if is_event else (None, None)
    k = message_key(msg.source, None if is_event else msg.id, msg.time, event, key)
    code = scene_code(event, key)
    async with pool.acquire() as con, con.transaction():  # one transaction
        if await con.fetchval(SQL["claim"], k, "" if code else HELP) is None:
            return await con.fetchval(SQL["stored"], k)  # WeChat's retry: the stored reply
        member = await load_member(con, msg.source, not is_event)
        if code is None:
            return HELP
        if code not in STATIONS:
            reply = UNKNOWN_STATION
        elif await con.fetchval(SQL["checkin"], member["id"], code, today()) is not None:
            points = await con.fetchval(SQL["point"], member["id"])
            reply = CHECKED_IN.format(name=STATIONS[code], points=points)
        else:
            reply = ALREADY.format(name=STATIONS[code])
        await con.execute(SQL["set_reply"], k, reply)
        return reply


async def callback(request: web.Request) -> web.Response:
    q = request.query
    try:
        check_signature(_W["token"], q["signature"], q["timestamp"], q["nonce"])
    except (KeyError, InvalidSignatureException):
        raise web.HTTPForbidden() from None
    xml = await request.text()
    aes = q.get("encrypt_type") == "aes"
    if aes:
        xml = CRYPTO.decrypt_message(xml, q["msg_signature"], q["timestamp"], q["nonce"])
    msg = parse_message(xml)
    reply = create_reply(await work(request.app[POOL], msg), msg).render()
    if aes:
        reply = CRYPTO.encrypt_message(reply, q["nonce"], q["timestamp"])
    return web.Response(text=reply, content_type="application/xml")


def make_app(dsn: str, pool_size: int) -> web.Application:
    app = web.Application()
    app.router.add_post("/wechat", callback)

    async def pool_ctx(app: web.Application) -> Any:
        # The bot's callback pool: 10 connections and 10 more in overflow.
        app[POOL] = await asyncpg.create_pool(dsn, min_size=pool_size, max_size=2 * pool_size,
                                              init=prepare_statements)
        yield
        await app[POOL].close()

    app.cleanup_ctx.append(pool_ctx)
    return app


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--db", default="postgresql://postgres@127.0.0.1:5432/bench_peers")
    p.add_argument("--pool", type=int, default=10)
    args = p.parse_args()
    with contextlib.suppress(ImportError):
        import uvloop
        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    web.run_app(make_app(asyncpg_dsn(args.db), args.pool), host="127.0.0.1", port=args.port,
                access_log=None, print=None)


if __name__ == "__main__":
    main()
