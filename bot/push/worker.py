"""The outbox worker: claims due pushes, picks each recipient's channel, sends, records.

Per recipient the channel policy (bot/push/channels.py) decides: 客服 text inside
WeChat's window while allowance lasts, else a 订阅通知 where the member holds a grant for
the kind's subscribe template, else the kind's template from config, else undeliverable
with the reason. The 客服 allowance and one-time grants are spent in the claiming
transaction, so two workers never spend the same one. A template's or 订阅通知's keyword
fields are filled from the push's values by the kind's mapping in config
(bot/wechat/templates.py `fill`). Sends are rate
limited for the account, every instance drawing from one token bucket in the database
(models/push_rate.py); quota answers (45009/45011), WeChat busy and network errors are
retried with exponential backoff and jitter; permanent answers are not retried.

The hot path is set-based SQL (SQLAlchemy Core, no ORM objects): a batch is claimed with
one UPDATE … RETURNING and its recipients' windows read with one SELECT; `concurrency`
lanes send without waiting for each other while one statement at a time records the
outcomes so far and marks the next chunk sending (on PostgreSQL a single statement in
autocommit, on SQLite a short transaction).

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
import dataclasses
import logging
import random
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from bot import metrics
from bot.clock import Clock
from bot.logs import anon
from bot.push import channels
from bot.settings import PushSettings
from bot.wechat import templates as tmpl
from bot.wechat.client import PERMANENT_RECIPIENT_ERRORS, WechatApi, WechatError
from models import due, outbox, push_rate, subscribe
from models.outbox import Outcome, Taken, Window

log = logging.getLogger(__name__)

# Turns one due row into outbox rows: how many were queued, None when it was dropped.
Expander = Callable[[AsyncSession, due.DuePush, datetime], Awaitable[int | None]]
IDLE_POLL_S = 0.5
# Due rows expanded per pass at most (each may write many outbox rows in the transaction).
DUE_BATCH = 100


def _step(wave: int, held: int, finished: int, todo: int, first: bool) -> int | None:
    """Whether a batch's next statement is due, and how many rows it marks sending: None
    while the lanes are busy and nothing is worth a statement yet.

    At most one wave is marked and unrecorded (`held`, of which `finished` answered). A
    statement is due for the batch's first outcomes,
    half a wave answered or to mark, or all that was marked answered."""
    half = max(1, wave // 2)
    n = min(wave - held + finished, todo)
    if first or finished >= half or n >= half or (held == finished and (finished or n)):
        return max(n, 0)
    return None


def _queue_mine(chunk: list[Taken], mine: set[int], queue: asyncio.Queue[Taken]) -> None:
    """Hand the rows just marked sending to the lanes; a row another worker took over
    (this one outlived its lease) is not sent."""
    if len(mine) < len(chunk):
        log.warning("%d pushes outlived this worker's lease and were taken over",
                    len(chunk) - len(mine))
    for push in chunk:
        if push.id in mine:
            push.attempts += 1  # as the mark counted it
            queue.put_nowait(push)


def backoff(attempt: int, base_s: float = 2.0, cap_s: float = 600.0) -> float:
    """Full-jitter exponential backoff."""
    return random.uniform(0, min(cap_s, base_s * 2 ** (attempt - 1)))


class OutboxWorker:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], api: WechatApi,
                 settings: PushSettings, templates: Mapping[str, tmpl.TemplateMapping],
                 clock: Clock,
                 expanders: Mapping[str, Expander] | None = None,
                 subscriptions: Mapping[str, tmpl.SubscribeMapping] | None = None):
        self._sessions = sessions
        self._api = api
        self._settings = settings
        self._templates = dict(templates)  # kind → its mapping (wechat.templates)
        self._subscriptions = dict(subscriptions or {})  # kind → its (wechat.subscribe)
        self._subscribe_ids = {m.id for m in self._subscriptions.values()}
        self._clock = clock
        self._expanders = dict(expanders or {})
        engine = sessions.kw["bind"]
        assert isinstance(engine, AsyncEngine)
        self._engine = engine
        self._pg = engine.dialect.name == "postgresql"
        # PostgreSQL: a wave's one statement needs no BEGIN/COMMIT (atomic on its own).
        self._auto = (engine.execution_options(isolation_level="AUTOCOMMIT") if self._pg
                      else engine)
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

    def _wave_size(self) -> int:
        """Sends per wave: `push.concurrency`; under a rate limit no more than the shared
        bucket's burst, so a wave never goes out faster than the rate allows."""
        return min(self._settings.concurrency, self._burst()) if self._settings.rate_per_s \
            else self._settings.concurrency

    def _batch_limit(self) -> int:
        """`push.batch_size`, but under a rate limit no more than a quarter of a lease's
        worth of the account's rate: the rate is shared by every instance, so a batch must
        finish well inside its lease even when a few instances draw from it at once."""
        rate, size = self._settings.rate_per_s, self._settings.batch_size
        return size if rate <= 0 else max(1, min(size, int(rate * self._settings.lease_s / 4)))

    def _burst(self) -> int:
        """The shared bucket's capacity: one wave (`push.concurrency`), at most one
        second's worth of sends, at least one."""
        rate = self._settings.rate_per_s
        return max(1, min(self._settings.concurrency, int(rate)))

    async def _send_batch(self, to_send: list[Taken], done: list[Outcome]) -> None:
        """Send a claimed batch with `concurrency` lanes that never wait for each other.

        Rows are marked sending a few at a time, in the statement that records the outcomes
        answered since the one before (half a wave at a time, so the other lanes go on
        sending meanwhile); each chunk's sends are drawn from the shared rate first. At
        most one wave (`concurrency` rows) is marked sending and not yet recorded at any
        moment (in flight, queued for a lane, or answered but not written): a crash leaves
        at most one wave's outcome unknown, and the rest of the batch is only claimed and
        goes back to pending after the lease.
        """
        if not to_send and not done:
            return
        wave = self._wave_size()
        todo = deque(to_send)
        queue: asyncio.Queue[Taken] = asyncio.Queue()
        results: list[Outcome] = []
        errors: list[BaseException] = []
        woken = asyncio.Event()
        held = 0  # rows marked sending by this batch whose outcome is not yet recorded

        async def lane() -> None:
            while True:
                push = await queue.get()
                try:
                    results.append(await self._send(push))
                except Exception as exc:  # left in `sending`: closed after the lease
                    errors.append(exc)
                woken.set()

        lanes = [asyncio.create_task(lane()) for _ in range(wave)]
        try:
            async with self._batch_conn() as conn:
                while todo or held or done:
                    if errors:
                        raise errors[0]
                    n = _step(wave, held, len(results), len(todo), bool(done))
                    if n is None:
                        woken.clear()
                        await woken.wait()
                        continue
                    chunk = [todo.popleft() for _ in range(n)]
                    if chunk:
                        await self._pace(len(chunk), conn)
                    outs = results[:]
                    del results[:]
                    mine = await self._record(done + outs, sending=chunk, conn=conn)
                    done = []
                    held += len(mine) - len(outs)
                    _queue_mine(chunk, mine, queue)
        finally:
            for task in lanes:
                task.cancel()
            await asyncio.gather(*lanes, return_exceptions=True)

    def _batch_conn(self) -> contextlib.AbstractAsyncContextManager[AsyncConnection | None]:
        """PostgreSQL: one autocommit connection for a batch's statements. SQLite: none
        (each statement takes the one pooled connection briefly, so callbacks never wait
        for a batch's calls)."""
        return self._auto.connect() if self._pg else contextlib.nullcontext()

    async def _pace(self, sends: int, conn: AsyncConnection | None = None) -> None:
        """Take `sends` from the account's rate, shared by every instance through the
        database (models/push_rate.py), and wait until they are due. No limit: no
        statement."""
        rate = self._settings.rate_per_s
        if rate <= 0:
            return
        if conn is not None:
            wait = await push_rate.draw(conn, sends, rate, self._burst())
        else:
            async with self._tx() as own:
                wait = await push_rate.draw(own, sends, rate, self._burst())
        if wait > 0:
            await asyncio.sleep(wait)

    def _tx(self) -> contextlib.AbstractAsyncContextManager[AsyncConnection]:
        """A connection for one unit of work: PostgreSQL in autocommit (one statement),
        SQLite in a transaction (BEGIN IMMEDIATE … COMMIT)."""
        return self._auto.connect() if self._pg else self._engine.begin()

    async def expand_due(self) -> int:
        """Turn the due rows whose time has come into outbox rows; how many were taken.

        Claimed, expanded and marked in one transaction: another instance skips the rows
        held here, and a crash leaves them pending for the next pass. Each row's expansion
        has a savepoint of its own: one that fails stays pending (and is logged) without
        holding up the others."""
        async with self._sessions() as session, session.begin():
            now = self._clock.now()
            claimed = await due.claim_due(session, now,
                                          min(self._settings.batch_size, DUE_BATCH),
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

    async def _claim(self, subject: str | None) -> tuple[list[Taken], list[Outcome]]:
        """One transaction: close what dead workers left, take a batch (one UPDATE …
        RETURNING), read the recipients' windows (one SELECT), choose each channel and
        spend the 客服 allowance it uses (one executemany), so two workers never spend the
        same allowance. On PostgreSQL the members whose allowance is spent are read again
        under a row lock first; the others' choice writes nothing and needs none."""
        async with self._engine.begin() as conn:
            now = self._clock.now()
            await outbox.close_abandoned(conn, now)
            lease = now + timedelta(seconds=self._settings.lease_s)
            taken = await outbox.claim(conn, now, self._batch_limit(), lease, subject)
            if not taken:
                return [], []
            openids = {p.openid for p in taken}
            wins = await outbox.windows(conn, openids)
            grants = await subscribe.held(conn, openids, self._subscribe_ids)
            to_send, decided, spent, used = self._choose(taken, wins, grants, now)
            if (spent or used) and self._pg:
                # Read again under a row lock what is about to be spent: another worker's
                # claim may have spent it meanwhile (SQLite's writer lock serialises claims).
                if spent:
                    wins.update(await outbox.windows(conn, spent, lock=True))
                if used:
                    owners = {o for o, _ in used}
                    grants = {**{o: g for o, g in grants.items() if o not in owners},
                              **await subscribe.held(conn, owners, self._subscribe_ids,
                                                     lock=True)}
                to_send, decided, spent, used = self._choose(taken, wins, grants, now)
            await outbox.spend(conn, spent)
            await subscribe.spend(conn, used)
            return to_send, decided

    def _choose(self, taken: list[Taken], wins: dict[str, Window],
                grants: Mapping[str, Mapping[str, subscribe.Grant]], now: datetime
                ) -> tuple[list[Taken], list[Outcome], dict[str, tuple[int, int]],
                           dict[tuple[str, str], int]]:
        """Each push's channel (bot/push/channels.py), in order, spending on copies of
        the windows and grants: (to send, undeliverable, openid → (window, event) 客服
        messages spent, (openid, 订阅通知 template) → one-time grants spent)."""
        left = {o: dataclasses.replace(w) for o, w in wins.items()}
        held = {o: dict(g) for o, g in grants.items()}
        to_send: list[Taken] = []
        decided: list[Outcome] = []
        spent: dict[str, tuple[int, int]] = {}
        used: dict[tuple[str, str], int] = {}
        for push in taken:
            member = left.get(push.openid)
            mine = held.get(push.openid, {})
            choice = channels.choose(member, push.kind, bool(push.template_data),
                                     self._templates, now, self._subscriptions, mine)
            if choice.channel is None:
                decided.append(Outcome(push.id, push.openid, "undeliverable",
                                       reason=choice.reason))
                continue
            if member is not None and choice.allowance is not None:
                channels.spend(member, choice.allowance)
                w, e = spent.get(push.openid, (0, 0))
                spent[push.openid] = (w + 1, e) if choice.allowance == "window" else (w, e + 1)
            if choice.grant is not None and choice.spends_grant:
                g = mine[choice.grant]
                mine[choice.grant] = subscribe.Grant(g.one_time - 1, g.long_term)
                key = (push.openid, choice.grant)
                used[key] = used.get(key, 0) + 1
            push.channel, push.grant = choice.channel, choice.grant
            push.grant_spent = choice.spends_grant
            push.template_blocked = member is not None and member.template_blocked_at is not None
            to_send.append(push)
        return to_send, decided, spent, used

    async def _send(self, push: Taken) -> Outcome:
        outcome = await self._send_once(push)
        if (outcome.status == "pending" and push.channel == "subscribe" and push.grant_spent
                and push.grant is not None):
            # Nothing went out on the one-time grant spent at the claim: give it back.
            try:
                async with self._tx() as conn:
                    await subscribe.refund(conn, push.openid, push.grant)
            except Exception:
                log.exception("could not give back a 订阅通知 grant not used")
        return outcome

    async def _send_once(self, push: Taken) -> Outcome:
        pid = push.id
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
                    if self._fallback(push, err) is None:
                        raise
                    push.channel = "template"
            elif push.channel == "subscribe":
                sub = self._subscriptions[push.kind]
                try:
                    await self._api.send_subscribe(
                        push.openid, sub.id, tmpl.fill(sub, push.template_data, template=False),
                        tmpl.link(sub, push.template_data, push.url))
                    return Outcome(pid, push.openid, "sent", "subscribe")
                except WechatError as err:
                    if err.errcode != channels.NO_GRANT_ERRCODE:
                        raise
                    # WeChat holds no grant: ours is dropped, and the template goes instead.
                    await self._grant_refused(push.openid, sub.id)
                    if self._fallback(push, err) is None:
                        return Outcome(pid, push.openid, "undeliverable", "subscribe",
                                       err.errcode, channels.REASON_NO_GRANT)
                    push.channel = "template"
            mapping = self._templates[push.kind]
            data = tmpl.fill(mapping, push.template_data, template=True)
            msgid = await self._api.send_template(
                push.openid, mapping.id, {k: v["value"] for k, v in data.items()},
                tmpl.link(mapping, push.template_data, push.url))
            return Outcome(pid, push.openid, "sent", "template", wx_msgid=msgid)
        except WechatError as err:
            return self._failure(push, err)

    def _fallback(self, push: Taken, err: WechatError) -> str | None:
        """The template to send once WeChat refused the 客服 message or 订阅通知."""
        return None if push.template_blocked else channels.template_fallback(
            err.errcode, push.kind, bool(push.template_data), self._templates)

    async def _grant_refused(self, openid: str, template_id: str) -> None:
        try:
            async with self._tx() as conn:
                await subscribe.refused(conn, openid, template_id, self._clock.now())
        except Exception:  # the send's outcome matters more; the next 43101 tries again
            log.exception("could not drop a 订阅通知 grant WeChat refused")

    def _failure(self, push: Taken, err: WechatError) -> Outcome:
        pid = push.id
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

    async def _record(self, outcomes: list[Outcome], sending: list[Taken] | None = None,
                      conn: AsyncConnection | None = None) -> set[int]:
        """Record outcomes, and mark the next rows sending; the ids of those this worker
        still holds. One statement on PostgreSQL (on `conn`, autocommit); one short
        transaction on SQLite."""
        lease = sending[0].lease_until if sending else None
        ids = [p.id for p in sending or ()]
        if conn is not None:
            mine = await outbox.record_and_mark(conn, outcomes, self._clock.now(), ids, lease)
        else:
            async with self._tx() as own:
                mine = await outbox.record_and_mark(own, outcomes, self._clock.now(), ids,
                                                    lease)
        if outcomes:
            self.stats.update(f"{o.status}:{o.channel or '-'}" for o in outcomes)
            by_label = Counter((o.channel or "-", "retry" if o.status == "pending"
                                else o.status) for o in outcomes)
            for (channel, status), n in by_label.items():
                metrics.PUSHES.labels(channel, status).inc(n)
        return mine
