"""The outbox worker: claims due pushes, picks each recipient's channel, sends, records.

Per recipient the channel policy (bot/push/channels.py) decides: 客服 text inside
WeChat's window while allowance lasts (spent in the claiming transaction, so two workers
never spend the same allowance), else the kind's template from config, else
undeliverable with the reason. Sends are rate limited; quota answers (45009/45011),
WeChat busy and network errors are retried with exponential backoff and jitter;
permanent answers are not retried.

Before each batch it expands the pushes due later (models/due.py: reminders, rolls,
scheduled notices…) whose time has come, through the expander registered for the row's
kind: claim, expand, mark done — one transaction, so a crash never sends one twice and
never loses one.

On PostgreSQL any number of workers (processes) share the outbox: claims use
FOR UPDATE SKIP LOCKED. On SQLite the write lock serialises claims.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from bot import metrics
from bot.clock import Clock
from bot.logs import anon
from bot.push import channels
from bot.settings import PushSettings
from bot.wechat.client import PERMANENT_RECIPIENT_ERRORS, WechatApi, WechatError
from models import due, outbox
from models.outbox import Outcome, Push

log = logging.getLogger(__name__)

# Turns one due row into outbox rows: how many were queued, None when it was dropped.
Expander = Callable[[AsyncSession, due.DuePush, datetime], Awaitable[int | None]]
IDLE_POLL_S = 0.5


class RateLimiter:
    """A token bucket: at most `rate` acquisitions a second, bursts up to one second's worth."""

    def __init__(self, rate: float):
        self.rate = rate
        self._tokens = rate
        self._last = time.monotonic()
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        if self.rate <= 0:
            return
        async with self._lock:
            while True:
                now = time.monotonic()
                self._tokens = min(self.rate, self._tokens + (now - self._last) * self.rate)
                self._last = now
                if self._tokens >= 1:
                    self._tokens -= 1
                    return
                await asyncio.sleep((1 - self._tokens) / self.rate)


def backoff(attempt: int, base_s: float = 2.0, cap_s: float = 600.0) -> float:
    """Full-jitter exponential backoff."""
    return random.uniform(0, min(cap_s, base_s * 2 ** (attempt - 1)))


class OutboxWorker:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], api: WechatApi,
                 settings: PushSettings, templates: dict[str, str], clock: Clock,
                 expanders: Mapping[str, Expander] | None = None):
        self._sessions = sessions
        self._api = api
        self._settings = settings
        self._templates = templates
        self._clock = clock
        self._expanders = dict(expanders or {})
        self._limiter = RateLimiter(settings.rate_per_s)
        self._paused_until = 0.0
        self._wake = asyncio.Event()
        self._stopping = False
        self.stats: Counter[str] = Counter()

    def wake(self) -> None:
        """Something was enqueued: look now instead of at the next poll."""
        self._wake.set()

    def stop(self) -> None:
        """Finish the pass under way, then leave run_forever."""
        self._stopping = True
        self._wake.set()

    async def run_forever(self) -> None:
        while not self._stopping:
            try:
                done = await self.run_once()
            except Exception:
                log.exception("outbox pass failed; trying again shortly")
                done = 0
            if done == 0 and not self._stopping:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=IDLE_POLL_S)

    async def drain(self, subject: str | None = None, timeout_s: float = 60.0) -> bool:
        """Work until nothing of `subject` is pending or sending (True), or time runs out."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if await self.run_once(subject) == 0:
                async with self._sessions() as session:
                    if not await outbox.has_due(session, self._clock.now(), subject):
                        return True
                await asyncio.sleep(0.2)
        return False

    async def run_once(self, subject: str | None = None) -> int:
        """One batch: claim, send, record. Returns how many rows it took."""
        wait = self._paused_until - time.monotonic()
        if wait > 0:
            await asyncio.sleep(min(wait, 1.0))
            return 0
        await self.expand_due()
        to_send, done = await self._claim(subject)
        await self._send_batch(to_send, done)
        return len(done) + len(to_send)

    async def _send_batch(self, to_send: list[Push], done: list[Outcome]) -> None:
        """A wave at a time: mark it sending (in the same transaction that records the wave
        before), call, and so on. A crash leaves at most one wave's outcome unknown; the
        rest of the batch is still only claimed and goes back to pending."""
        step = self._settings.concurrency
        for start in range(0, len(to_send), step):
            wave = to_send[start : start + step]
            mine = await self._record(done, sending=wave)
            if len(mine) < len(wave):
                log.warning("%d pushes outlived this worker's lease and were taken over",
                            len(wave) - len(mine))
            done = list(await asyncio.gather(*(self._paced(p) for p in wave
                                               if p.id in mine)))
        if done:
            await self._record(done)

    async def _paced(self, push: Push) -> Outcome:
        await self._limiter.acquire()
        push.attempts += 1
        return await self._send(push)

    async def expand_due(self) -> int:
        """Turn the due rows whose time has come into outbox rows; how many were taken.

        Claimed, expanded and marked in one transaction: another instance skips the rows
        held here, and a crash leaves them pending for the next pass. Each row's expansion
        has a savepoint of its own: one that fails stays pending (and is logged) without
        holding up the others."""
        async with self._sessions() as session, session.begin():
            now = self._clock.now()
            claimed = await due.claim_due(session, now, self._settings.batch_size,
                                          self._expanders.keys())
            for row in claimed:
                expand = self._expanders[row.kind]
                if row.not_after is not None and now > row.not_after:
                    log.info("due push %s %s/%s: too late (due %s); dropped", row.kind,
                             row.subject, row.slot, row.due_at.isoformat())
                    due.finish(session, row, now, "dropped")
                    continue
                try:
                    async with session.begin_nested():
                        queued = await expand(session, row, now)
                except due.NotYet:
                    await session.refresh(row)
                    due.wait(session, row, now)
                    continue
                except Exception:
                    await session.refresh(row)  # as it was before the savepoint
                    again = due.postpone(session, row, now)
                    log.exception("due push %s %s/%s failed (attempt %d); %s", row.kind,
                                  row.subject, row.slot, row.attempts,
                                  "will try again" if again else "given up")
                    continue
                due.finish(session, row, now, "dropped" if queued is None else "done")
        return len(claimed)

    async def _claim(self, subject: str | None) -> tuple[list[Push], list[Outcome]]:
        async with self._sessions() as session, session.begin():
            now = self._clock.now()
            await outbox.close_abandoned(session, now)
            lease = timedelta(seconds=self._settings.lease_s)
            claimed = await outbox.claim(session, now, self._settings.batch_size, lease, subject)
            members = await outbox.members_by_openid(session, {p.openid for p in claimed})
            to_send: list[Push] = []
            decided: list[Outcome] = []
            for push in claimed:
                member = members.get(push.openid)
                choice = channels.choose(member, push.kind, bool(push.template_data),
                                         self._templates, now)
                if choice.channel is None:
                    decided.append(Outcome(push.id or 0, push.openid, "undeliverable",
                                           reason=choice.reason))
                    continue
                if member is not None and choice.allowance is not None:
                    channels.spend(member, choice.allowance)
                push.channel = choice.channel
                to_send.append(push)
            for m in members.values():
                session.add(m)
            return to_send, decided

    async def _send(self, push: Push) -> Outcome:
        pid = push.id or 0
        paused = self._paused_until - time.monotonic()
        if paused > 0:  # a quota answer came in while this batch was under way
            return Outcome(pid, push.openid, "pending", retry_in_s=paused, not_tried=True,
                           reason="配额用完，稍后再发")
        try:
            if push.channel == "kefu":
                try:
                    await self._api.send_text(push.openid, push.text)
                    return Outcome(pid, push.openid, "sent", "kefu")
                except WechatError as err:
                    # Our view of the window was off: fall back to the template, once.
                    template_id = channels.template_fallback(
                        err.errcode, push.kind, bool(push.template_data), self._templates)
                    if template_id is None:
                        raise
                    push.channel = "template"
            else:
                template_id = self._templates[push.kind]
            msgid = await self._api.send_template(
                push.openid, template_id, push.template_data, push.url)
            return Outcome(pid, push.openid, "sent", "template", wx_msgid=msgid)
        except WechatError as err:
            return self._failure(push, err)

    def _failure(self, push: Push, err: WechatError) -> Outcome:
        pid = push.id or 0
        self.stats[f"error:{err.errcode}"] += 1
        if err.errcode in PERMANENT_RECIPIENT_ERRORS:
            status = "undeliverable" if err.errcode == 43004 else "failed"
            return Outcome(pid, push.openid, status, push.channel, err.errcode,
                           PERMANENT_RECIPIENT_ERRORS[err.errcode],
                           unfollowed=err.errcode == 43004)
        if err.is_quota:
            # The account's quota, not this push: pause every send, spend no attempt, and
            # come back when the pause is over (other instances see the row wait as long).
            pause = (self._settings.daily_quota_pause_s if err.errcode == 45009
                     else self._settings.minute_quota_pause_s)
            pause *= random.uniform(0.8, 1.2)
            now = time.monotonic()
            if self._paused_until <= now:  # one line per pause, not one per send in flight
                log.warning("WeChat quota %s reached: pausing pushes for %.0f s",
                            err.errcode, pause)
            self._paused_until = max(self._paused_until, now + pause)
            return Outcome(pid, push.openid, "pending", None, err.errcode,
                           f"重试中：{err.errmsg}"[:200], retry_in_s=pause, not_tried=True)
        if err.transient and push.attempts < self._settings.max_attempts:
            return Outcome(pid, push.openid, "pending", None, err.errcode,
                           f"重试中：{err.errmsg}"[:200], retry_in_s=backoff(push.attempts))
        log.warning("push %s to %s failed for good: %s", pid, anon(push.openid), err.errcode)
        reason = f"{err.errcode} {err.errmsg}"[:200]
        return Outcome(pid, push.openid, "failed", push.channel, err.errcode, reason)

    async def _record(self, outcomes: list[Outcome], sending: list[Push] | None = None
                      ) -> set[int]:
        """Record outcomes, and mark the next wave sending; the ids of the wave this worker
        still holds."""
        mine: set[int] = set()
        async with self._sessions() as session, session.begin():
            await outbox.record(session, outcomes, self._clock.now())
            if sending:
                lease = sending[0].lease_until
                assert lease is not None  # set by the claim
                mine = await outbox.mark_sending(session, [p.id or 0 for p in sending], lease)
        self.stats.update(f"{o.status}:{o.channel or '-'}" for o in outcomes)
        for o in outcomes:
            metrics.PUSHES.labels(o.channel or "-", "retry" if o.status == "pending"
                                  else o.status).inc()
        return mine
