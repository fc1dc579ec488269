"""The staff tags' periodic job: put on and take off the WeChat user tags that the console
roles asked for (models/staff_tags.py), so each staff member sees their role's conditional
menu. Registered in handlers/staff/__init__.py; the scheduler's leader runs it on the loop,
one run at a time, so each change is applied by one instance only. Never from the callback.

WeChat's batch calls take at most 50 openids; tagging an account that carries the tag
already, or untagging one that does not, is no error, so a run cut short is simply done
again. A WeChat error leaves the rows for a later run, each a little later than the last.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from bot.db import session_factory
from bot.features import Runtime
from bot.wechat import tags
from bot.wechat.client import WechatApi, WechatError
from models import staff_tags
from models.staff_tags import NONE, StaffTag

log = logging.getLogger(__name__)

TAGS_JOB = "staff.tags"
TAGS_EVERY_S = 30.0
BATCH = 50  # WeChat: openid_list holds at most 50


async def apply_tag_changes(services: Runtime, now: datetime) -> int:
    """Apply the due tag changes; returns how many accounts now carry what they should."""
    api = services.api
    if api is None:
        return 0
    sessions = session_factory(services.engine)
    async with sessions() as session:
        rows = list(await staff_tags.due(session, now))
    if not rows:
        return 0
    menu = services.settings.menu
    names = {r: menu.tag_of(r) or "" for row in rows for r in (row.wanted, row.applied) if r}
    try:
        ids = await tags.tag_ids(api, sessions, [n for n in names.values() if n], now)
    except WechatError as exc:
        await _failed(services, [r.openid for r in rows], exc, now)
        return 0
    run = _Run(api, services, names, ids, now)
    untag = [r for r in rows if r.applied != NONE]
    for role, group in _by(untag, "applied").items():
        await run.step(group, role, NONE)
    cleared = {r.openid for r in untag} - run.refused
    tag = [r for r in rows if r.wanted != NONE and (r.applied == NONE or r.openid in cleared)]
    for role, group in _by(tag, "wanted").items():
        await run.step(group, NONE, role)
    done = len(rows) - len(run.refused)
    log.info("staff tags: %d account(s) changed, %d to try again", done, len(run.refused))
    return done


def _by(rows: Sequence[StaffTag], field: str) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = defaultdict(list)
    for row in rows:
        grouped[getattr(row, field)].append(row.openid)
    return grouped


class _Run:
    def __init__(self, api: WechatApi, services: Runtime, names: dict[str, str],
                 ids: dict[str, int], now: datetime):
        self.api, self.services, self.names, self.ids, self.now = api, services, names, ids, now
        self.sessions = session_factory(services.engine)
        self.refused: set[str] = set()

    async def step(self, openids: list[str], was: str, now_has: str) -> None:
        """Take `was`'s tag off these accounts (now_has == NONE) or put `now_has`'s on."""
        role = now_has or was
        name = self.names[role]
        for at in range(0, len(openids), BATCH):
            chunk = openids[at:at + BATCH]
            try:
                if now_has:
                    await self.api.tag_users(self.ids[name], chunk)
                else:
                    await self.api.untag_users(self.ids[name], chunk)
            except WechatError as exc:
                if exc.errcode == tags.TAG_UNKNOWN:
                    await tags.forget(self.sessions, name)
                self.refused.update(chunk)
                await _failed(self.services, chunk, exc, self.now)
                continue
            async with self.sessions() as session, session.begin():
                await staff_tags.applied(session, chunk, was, now_has)


async def _failed(services: Runtime, openids: list[str], exc: WechatError, now: datetime
                  ) -> None:
    log.warning("staff tags: WeChat refused (%s) for %d account(s); trying again later",
                exc.errcode, len(openids))
    async with session_factory(services.engine)() as session, session.begin():
        await staff_tags.failed(session, openids, f"{exc.errcode} {exc.errmsg}", now)
