"""WeChat's ids of user tags, by name: cached in the database (models/staff_tags.py
`wechat_tag`), else looked up with tags/get, else made with tags/create."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.wechat.client import WechatApi, WechatError
from models import staff_tags

TAG_NAME_TAKEN = 45157  # tags/create: a tag of that name exists (made meanwhile)
TAG_UNKNOWN = 45159  # batch(un)tagging: no such tag (deleted in WeChat's own console)


async def tag_ids(api: WechatApi, sessions: async_sessionmaker[AsyncSession],
                  names: Iterable[str], now: datetime) -> dict[str, int]:
    """The id of each named tag, making the tags that do not exist yet."""
    wanted = list(dict.fromkeys(names))
    async with sessions() as session:
        known = await staff_tags.cached_tag_ids(session)
    missing = [n for n in wanted if n not in known]
    if not missing:
        return {n: known[n] for n in wanted}
    listed = await api.get_tags()
    found = {n: listed[n] for n in missing if n in listed}
    for name in missing:
        if name in found:
            continue
        try:
            found[name] = await api.create_tag(name)
        except WechatError as exc:
            if exc.errcode != TAG_NAME_TAKEN:
                raise
            found[name] = (await api.get_tags())[name]
    try:
        async with sessions() as session, session.begin():
            await staff_tags.remember_tag_ids(session, found, now)
    except IntegrityError:
        pass  # another process cached them at the same moment: the same ids
    known.update(found)
    return {n: known[n] for n in wanted}


async def forget(sessions: async_sessionmaker[AsyncSession], name: str) -> None:
    """The cached id is stale (WeChat answered 45159): look the tag up again next time."""
    async with sessions() as session, session.begin():
        await staff_tags.forget_tag_id(session, name)
