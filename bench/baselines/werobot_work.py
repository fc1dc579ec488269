"""Peer (f): a WeRoBot bot doing the same work as the bot's keyword reply and scan check-in,
with SQLAlchemy Core on psycopg 3, served by gunicorn with 2 sync workers — what a Python
developer would write with the usual tools. The work and the schema: peer_work.py.

    PEER_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/bench_peers \\
        gunicorn -w 2 -b 127.0.0.1:8084 --chdir bench/baselines werobot_work:application
"""

from __future__ import annotations

import os
from typing import Any

import bottle
import werobot
import yaml
from peer_work import (
    ALREADY,
    CHECKED_IN,
    HELP,
    ROOT,
    UNKNOWN_STATION,
    message_key,
    scene_code,
    stations,
    today,
)
from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    DateTime,
    Integer,
    MetaData,
    Table,
    Text,
    bindparam,
    create_engine,
    func,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert
from werobot.replies import process_function_reply

_W = yaml.safe_load((ROOT / "config.yaml").read_text(encoding="utf-8"))["wechat"]
URL = os.environ.get("PEER_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/bench_peers")
STATIONS = stations()

md = MetaData()
member = Table("peer_member", md, Column("id", BigInteger, primary_key=True),
               Column("openid", Text, unique=True), Column("points", Integer),
               Column("last_inbound_at", DateTime(timezone=True)))
claim = Table("peer_claim", md, Column("key", Text, primary_key=True), Column("reply", Text))
checkin = Table("peer_checkin", md, Column("member_id", BigInteger, primary_key=True),
                Column("station", Text, primary_key=True), Column("day", Date, primary_key=True))

# Built once; SQLAlchemy caches their compiled form.
CLAIM = (insert(claim).values(key=bindparam("k"), reply=bindparam("r"))
         .on_conflict_do_nothing(index_elements=[claim.c.key]).returning(claim.c.key))
STORED = select(claim.c.reply).where(claim.c.key == bindparam("k"))
SET_REPLY = update(claim).where(claim.c.key == bindparam("k")).values(reply=bindparam("r"))
_new = insert(member).values(openid=bindparam("oid"), last_inbound_at=func.now())
# A message the user wrote: load the member, first contact creates it, the window moves.
MEMBER_INPUT = (_new.on_conflict_do_update(index_elements=[member.c.openid],
                                           set_={"last_inbound_at": _new.excluded.last_inbound_at})
                .returning(member.c.id, member.c.points))
# An event: load the member; first contact creates it (no window).
MEMBER = select(member.c.id, member.c.points).where(member.c.openid == bindparam("oid"))
MEMBER_NEW = (insert(member).values(openid=bindparam("oid"))
              .on_conflict_do_nothing(index_elements=[member.c.openid])
              .returning(member.c.id, member.c.points))
CHECKIN = (insert(checkin).values(member_id=bindparam("mid"),
                                  station=bindparam("st"), day=bindparam("d"))
           .on_conflict_do_nothing().returning(checkin.c.member_id))
POINT = (update(member).where(member.c.id == bindparam("mid"))
         .values(points=member.c.points + 1).returning(member.c.points))

# One sync request at a time per worker: one connection is all it uses.
engine = create_engine(URL, pool_size=1, max_overflow=0)


def _load_member(conn: Any, openid: str, is_input: bool) -> tuple[int, int]:
    if is_input:
        return tuple(conn.execute(MEMBER_INPUT, {"oid": openid}).one())  # type: ignore[return-value]
    row = conn.execute(MEMBER, {"oid": openid}).first()
    if row is None:
        row = conn.execute(MEMBER_NEW, {"oid": openid}).first()
    if row is None:  # created by a concurrent first contact
        row = conn.execute(MEMBER, {"oid": openid}).one()
    return row[0], row[1]


def work(message: Any) -> str:
    is_event = message.type.endswith("_event")
    event = message.type[: -len("_event")] if is_event else None
    key = getattr(message, "key", None)
    k = message_key(message.source, None if is_event else message.message_id, message.time,
                    event, key)
    code = scene_code(event, key)
    with engine.begin() as conn:  # one transaction
        # The keyword reply is known up front: claimed with its reply in one statement.
        first = conn.execute(CLAIM, {"k": k, "r": "" if code else HELP}).first()
        if first is None:  # WeChat's retry: the stored reply, no work
            return conn.execute(STORED, {"k": k}).scalar_one()
        member_id, points = _load_member(conn, message.source, not is_event)
        if code is None:
            return HELP
        if code not in STATIONS:
            reply = UNKNOWN_STATION
        elif conn.execute(CHECKIN, {"mid": member_id, "st": code, "d": today()}).first():
            points = conn.execute(POINT, {"mid": member_id}).scalar_one()
            reply = CHECKED_IN.format(name=STATIONS[code], points=points)
        else:
            reply = ALREADY.format(name=STATIONS[code])
        conn.execute(SET_REPLY, {"k": k, "r": reply})
        return reply


class Robot(werobot.WeRoBot):  # type: ignore[misc]
    """WeRoBot with two fixes a correct bot needs: a reply is encrypted when its request was
    (WeRoBot encrypts every reply of a worker once any request was AES), and a failure is a
    500 (WeRoBot's get_reply logs it and answers an empty 200)."""

    def get_encrypted_reply(self, message: Any) -> str:
        reply = process_function_reply(work(message), message=message)
        if bottle.request.query.get("encrypt_type") == "aes":
            return self.crypto.encrypt_message(reply)
        return reply.render()


robot = Robot(token=_W["token"], encoding_aes_key=_W["encoding_aes_key"], app_id=_W["app_id"])
robot.config["SESSION_STORAGE"] = False
robot.add_handler(work)  # WeRoBot's wsgi app wants one
application = robot.wsgi
