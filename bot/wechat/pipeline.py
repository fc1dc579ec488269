"""One inbound message, from claim to reply, under WeChat's deadline.

take the user's lock → (plaintext mode) note the callback's signature with its body's
digest → read member, dialog, staff account and the message's claim in one query →
dispatch → save the dialog, and the claim with the reply, all in ONE transaction. A
retry of the same message (always from the same user) waits on the lock for the first
attempt's transaction and then finds its claim and stored reply; if the first attempt
failed and rolled back, the retry runs afresh. Nothing is half-done.

If the handler is not finished within the reply budget, the callback answers
"success" (WeChat then stops retrying) and the reply goes out later through the
deferred-reply sink (the push path).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.exc import TimeoutError as SATimeoutError
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession
from wechatpy.replies import TransferCustomerServiceReply

from bot import metrics
from bot import texts as T
from bot.clock import Clock
from bot.db import lock_user
from bot.dialogs import DialogContext
from bot.router import Context, Dispatcher
from bot.settings import Settings
from bot.wechat.message import Inbound
from models import claim, dialog_store, replay, staff
from models import member as members

log = logging.getLogger(__name__)

# A reply kind besides text: a handler returning this hands the chat to WeChat's 客服
# workbench (the gateway answers with render_transfer's transfer_customer_service reply).
# It means nothing as a push, so a late one is not pushed.
TRANSFER_TO_KF = "⟨transfer_customer_service⟩"


def is_transfer(reply: str | None) -> bool:
    """The reply hands the chat over (a line said before it, e.g. "the dialog expired",
    cannot go with a transfer reply and is dropped)."""
    return reply is not None and reply.endswith(TRANSFER_TO_KF)


def render_transfer(msg: Inbound, create_time: int) -> str:
    return TransferCustomerServiceReply(source=msg.account, target=msg.openid,
                                        time=create_time).render()

# Queue a late reply as a push: in the given session (the handler's own transaction), or
# in a transaction of its own when the session is None.
DeferredSink = Callable[[Inbound, str, AsyncSession | None], Awaitable[None]]


@dataclass(frozen=True)
class Signed:
    """A plaintext callback's signature (hashed) and its body's digest, noted in the
    callback's own transaction (models/replay.py). In safe mode the msg_signature covers
    the body, so nothing needs noting."""

    key: str
    body_hash: str
    expires_at: datetime


class Replayed(Exception):
    """The callback's signature came before with another body: refused, nothing done."""


@dataclass
class CallbackResult:
    """What one callback came to: the reply (None: answer `success`), and whether it was a
    retry of a message already handled, a failure answered with the apology, or a replay."""

    reply: str | None
    duplicate: bool = False
    failed: bool = False
    replayed: bool = False


class _Job:
    __slots__ = ("deferred", "pushed", "retried")

    def __init__(self) -> None:
        self.deferred = False  # the callback has answered "success": the reply is a push
        self.pushed = False
        self.retried = False  # tried again once after a dead pooled connection


class Pipeline:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        dispatcher: Dispatcher,
        settings: Settings,
        clock: Clock,
        deferred_sink: DeferredSink,
    ):
        self._sessions = sessions
        self._dispatcher = dispatcher
        self._settings = settings
        self._clock = clock
        self._deferred_sink = deferred_sink
        self._background: set[asyncio.Task[CallbackResult]] = set()

    async def handle(self, msg: Inbound, budget_s: float | None = None,
                     signed: Signed | None = None) -> str | None:
        """The passive reply for a message (None: answer "success"), within `budget_s`
        (default wechat.reply_budget_s; the gateway passes what its own checks left).
        Raises Replayed when `signed` came before with another body."""
        if not msg.is_known:  # nothing to handle, but its signature is used up all the same
            if signed is not None and await self._note_apart(signed) is False:
                raise Replayed
            return None
        job = _Job()
        timer = metrics.Timer()
        kind = metrics.kind_of(msg.msg_type, msg.event)
        task = asyncio.create_task(self._run(msg, job, signed))
        budget = self._settings.wechat.reply_budget_s if budget_s is None else budget_s
        done, _ = await asyncio.wait({task}, timeout=max(budget, 0.0))
        metrics.HANDLER_SECONDS.labels(kind).observe(timer.seconds())
        if task in done:
            outcome = task.result()
            if outcome.replayed:
                raise Replayed
            if outcome.duplicate:
                metrics.DEDUP_HITS.inc()
            metrics.CALLBACKS.labels(kind, "duplicate" if outcome.duplicate else "error"
                                     if outcome.failed else "replied" if outcome.reply
                                     else "empty").inc()
            return outcome.reply
        metrics.CALLBACKS.labels(kind, "deferred").inc()
        job.deferred = True
        self._background.add(task)
        task.add_done_callback(lambda t: self._after_deferred(msg, t))  # keep a reference
        log.info("handler for %s over budget: answered success, reply follows", msg.msg_type)
        return None

    def _after_deferred(self, msg: Inbound, task: asyncio.Task[CallbackResult]) -> None:
        self._background.discard(task)

    async def drain(self, grace_s: float = 10.0) -> None:
        """Let deferred work finish (on shutdown)."""
        if self._background:
            await asyncio.wait(set(self._background), timeout=grace_s)

    async def _run(self, msg: Inbound, job: _Job, signed: Signed | None) -> CallbackResult:
        try:
            result = await self._attempt(msg, job, signed)
        except DBAPIError:  # only a dropped connection, and only once, comes out of it
            # A pooled connection had died (the database restarted): this attempt rolled
            # back. WeChat will not retry a callback that got an answer, so try once more
            # here, on a fresh connection; if the first commit did land, this finds its claim.
            log.warning("database connection lost mid-callback: trying the %s message again",
                        msg.event or msg.msg_type)
            result = await self._attempt(msg, job, signed)
        if result.failed and signed is not None:
            # The failed attempt rolled its note of the signature back with everything else;
            # the user got the apology and WeChat will not retry, so the signature is noted
            # now, or another body could be sent under it while it is fresh.
            await self._note_apart(signed)
        return result

    async def _note_apart(self, signed: Signed) -> bool | None:
        """Note a signature in a short transaction of its own: True the first time (or the
        same body again), False when another body came under it, None when the database
        could not say within a second (then nothing was handled under it either)."""
        try:
            async with asyncio.timeout(1.0), self._sessions() as session, session.begin():
                return await replay.first_or_retry(session, signed.key, signed.body_hash,
                                                   signed.expires_at)
        except Exception as exc:  # the database is down or slow: the caller goes on
            log.warning("callback signature not noted apart (%s)", type(exc).__name__)
            return None

    async def _attempt(self, msg: Inbound, job: _Job, signed: Signed | None
                       ) -> CallbackResult:
        key = msg.dedup_key
        try:
            async with self._sessions() as session:
                reply = None
                async with session.begin():
                    await lock_user(session, msg.openid)
                    now = self._clock.now()  # after the lock: after this user's last message
                    if signed is not None and not await replay.first_or_retry(
                            session, signed.key, signed.body_hash, signed.expires_at):
                        return CallbackResult(None, replayed=True)  # nothing else done
                    sender = await claim.sender(session, msg.openid, key)
                    if sender.claim is not None:  # a retry of a message handled already
                        first = sender.claim
                        return CallbackResult(None if first.deferred else first.reply,
                                              duplicate=True)
                    reply = await self._dispatch(session, msg, sender, now)
                    if job.deferred and reply and not is_transfer(reply):
                        # Past the deadline: the reply becomes a push, queued in the
                        # same transaction as the effects it reports.
                        await self._deferred_sink(msg, reply, session)
                        job.pushed = True
                    await claim.record(session, key, now, reply, job.deferred)
                if job.deferred and reply and not job.pushed and not is_transfer(reply):
                    # The deadline passed between the check above and the commit.
                    await self._deferred_sink(msg, reply, None)
                return CallbackResult(reply)
        except IntegrityError as exc:
            # Either the key's primary key caught a second attempt the locks did not (this
            # attempt rolled back; the first one's reply stands), or a handler broke a rule.
            try:
                async with self._sessions() as session, session.begin():
                    stored = await claim.get(session, key)
            except Exception:
                stored = None
            if stored is not None:
                return CallbackResult(None if stored.deferred else stored.reply, duplicate=True)
            # Not the exception's text: the database's DETAIL quotes the clashing values.
            log.error("handler for a %s message broke a database rule (%s)",
                      msg.event or msg.msg_type, type(exc.orig).__name__)
            return self._failed(msg)
        except DBAPIError as exc:
            if exc.connection_invalidated and not job.retried:
                job.retried = True
                raise  # _run tries once more on a fresh connection
            return self._unexpected(msg, exc)
        except Exception as exc:
            return self._unexpected(msg, exc)

    def _unexpected(self, msg: Inbound, exc: Exception) -> CallbackResult:
        # The transaction rolled back: no effect, no claim. A retry may run afresh.
        if _database_unreachable(exc):
            log.warning("database unreachable (%s): %s message answered with an apology",
                        type(exc).__name__, msg.event or msg.msg_type)
        else:
            log.exception("handler failed for a %s message", msg.event or msg.msg_type)
        return self._failed(msg)

    @classmethod
    def apology(cls, msg: Inbound) -> str | None:
        """What a message gets when it cannot be handled now (the database is down): the
        apology for something the user did, "success" (None) for a bare event."""
        return cls._failed(msg).reply

    @staticmethod
    def _failed(msg: Inbound) -> CallbackResult:
        # Something the user did (a message, click, scan, follow) gets an apology, never
        # silence; a bare event (a delivery report) gets "success".
        user_act = msg.is_input or msg.opens_event_allowance
        return CallbackResult(T.ERROR if user_act else None, failed=True)

    async def _dispatch(self, session: AsyncSession, msg: Inbound, sender: claim.Sender,
                        now: datetime) -> str | None:
        member = sender.member or await members.get_or_create(session, msg.openid, now)
        if msg.event in ("subscribe", "subscribe_scan", "unsubscribe"):
            member.followed = msg.event != "unsubscribe"
            if member.followed:  # following again: templates are tried afresh (a receipt
                member.template_blocked_at = None  # saying "user block" marks them again)
        session.add(member)
        row, expired = await dialog_store.live(
            session, sender.dialog, now, self._settings.dialog.idle_timeout
        )
        dialog = DialogContext(row.state, row.data, expired) if row else DialogContext(
            expired=expired)
        ctx = Context(
            msg=msg,
            session=session,
            clock=self._clock,
            now=now,
            settings=self._settings,
            member=member,
            dialog=dialog,
            staff_loader=lambda: staff.staff_for(session, msg.openid),
        )
        if sender.member is not None:  # the staff account came with the member
            ctx._staff, ctx._staff_loaded = sender.staff, True
        reply = await self._dispatcher.dispatch(ctx)
        # The 客服 window moves after the handler, so it is written in the same UPDATE as
        # whatever the handler changed of the member (points…), at the commit; nothing in
        # a handler reads it. An erased member's window stays closed.
        if member.erased_at is None:
            if msg.opens_service_window and members.window_needs_update(member, now):
                members.note_inbound(member, now)
            elif msg.opens_event_allowance:
                members.note_interaction(member, now)
        if dialog.state is not None and (dialog.changed or not msg.is_event):
            # The sender query read the dialog with the member: no row then means none.
            await dialog_store.save(session, msg.openid, dialog.state, dialog.data, now,
                                    known_absent=sender.member is not None and row is None
                                    and not expired)
        elif dialog.state is None and dialog.changed:
            await dialog_store.clear(session, msg.openid)
        return reply


def _database_unreachable(exc: BaseException) -> bool:
    """The database is down or not answering (one warning line, not a traceback each):
    refused or timed-out connections, no pooled connection free in time, a dropped link."""
    if isinstance(exc, (ConnectionError, TimeoutError, SATimeoutError)):
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated
