"""Console logins and 绑定 codes: the throttle that slows password and code guessing, kept in
the database so every instance counts the same failures."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from sqlalchemy import case, or_, update
from sqlmodel import Field, SQLModel, col, delete, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models import staff
from models.base import UTCDateTime, insert_for
from models.staff import BindOutcome, ConsoleUser


@cache
def _dummy_hash() -> str:
    """A real argon2 hash to check against when the account does not exist, so a wrong user
    name takes as long as a wrong password (no timing difference to probe names with)."""
    return staff.hash_password("not-a-real-password-at-all")


class LoginFailure(SQLModel, table=True):
    """Failed tries per key within a window: console logins by account (`acct:NAME`),
    address (`addr:ADDRESS`) and both (`pair:NAME|ADDRESS`); 绑定 codes by openid."""

    __tablename__ = "login_failure"

    key: str = Field(primary_key=True, max_length=120)
    failures: int = 0
    first_at: datetime = Field(sa_type=UTCDateTime)
    last_at: datetime | None = Field(default=None, sa_type=UTCDateTime)  # the latest counted


ACCOUNT, ADDRESS, PAIR = "acct:", "addr:", "pair:"
MAX_DOUBLINGS = 16


@dataclass(frozen=True)
class LoginRules:
    """How console logins are throttled (console.login_* in the config)."""

    pair_max: int  # failures for one account from one address, then each try waits …
    address_max: int  # … and from one address for any accounts …
    account_lock: int  # failures of one account from every address: locked
    delay: timedelta  # the first wait, doubled with each further failure …
    max_delay: timedelta  # … up to this
    window: timedelta  # counts start afresh this long after their first failure

    def wait(self, failures: int, limit: int, last_at: datetime | None, now: datetime
             ) -> timedelta:
        """How long a key with `failures` (limit `limit`) still has to wait."""
        if failures < limit or last_at is None:
            return timedelta(0)
        pause = min(self.delay * 2 ** min(failures - limit, MAX_DOUBLINGS), self.max_delay)
        return max(timedelta(0), last_at + pause - now)


@dataclass(frozen=True)
class LoginKeys:
    """The three counts one login try touches."""

    account: str
    pair: str
    address: str

    @classmethod
    def of(cls, username: str, address: str) -> LoginKeys:
        name = username.strip().lower()
        return cls(f"{ACCOUNT}{name}", f"{PAIR}{name}|{address}", f"{ADDRESS}{address}")

    def all(self) -> list[str]:
        return sorted((self.account, self.pair, self.address))  # one lock order for all


@dataclass(frozen=True)
class Refusal:
    """Why a try was not checked: `wait` until it may be, or None: the account is locked."""

    wait: timedelta | None


def _live(row: LoginFailure, now: datetime, window: timedelta) -> int:
    return row.failures if now - row.first_at < window else 0


async def admit(session: AsyncSession, keys: LoginKeys, rules: LoginRules, now: datetime
                ) -> Refusal | None:
    """May this try's password be checked? If so it is counted as a failure at once (a
    right password takes it back: `succeeded`), so racing tries cannot slip past the
    count: the three rows are made if missing and locked in one order (PostgreSQL; on
    SQLite BEGIN IMMEDIATE serialises every transaction) before they are read. A refused
    try counts nothing, so waiting out the delay is enough, and only checked tries count
    towards an account's lock, and only an address's free ones: one guessing address
    cannot lock the owner out."""
    rows = await _locked_rows(session, keys.all(), now)
    live = {k: _live(r, now, rules.window) for k, r in rows.items()}
    if live[keys.account] >= rules.account_lock:
        return Refusal(None)
    wait = max(rules.wait(live[keys.pair], rules.pair_max, rows[keys.pair].last_at, now),
               rules.wait(live[keys.address], rules.address_max, rows[keys.address].last_at,
                          now))
    if wait > timedelta(0):
        return Refusal(wait)
    # Towards the account's lock count only the free tries of an address (before its own
    # delays begin): one address can add at most pair_max, so the lock takes many.
    free = live[keys.pair] < rules.pair_max and live[keys.address] < rules.address_max
    for key, row in rows.items():
        if key == keys.account and not free:
            continue
        if live[key] == 0:
            row.failures, row.first_at = 0, now
        row.failures += 1
        row.last_at = now
        session.add(row)
    return None


async def _locked_rows(session: AsyncSession, names: list[str], now: datetime
                       ) -> dict[str, LoginFailure]:
    """The rows of `names`, made if missing and locked in key order. A row deleted between
    the insert and the lock (a right password, an unlock, the purge) is made again."""
    rows: dict[str, LoginFailure] = {}
    for _ in range(3):
        await session.exec(insert_for(session, LoginFailure).values(
            [{"key": k, "failures": 0, "first_at": now} for k in names if k not in rows]
        ).on_conflict_do_nothing(index_elements=["key"]))
        found = (await session.exec(
            select(LoginFailure).where(col(LoginFailure.key).in_(names))
            .order_by(col(LoginFailure.key)).with_for_update()
            .execution_options(populate_existing=True))).all()
        rows = {r.key: r for r in found}
        if len(rows) == len(names):
            return rows
    raise RuntimeError("login counts kept vanishing")  # three deletions in a row: not seen


async def succeeded(session: AsyncSession, keys: LoginKeys, rules: LoginRules) -> None:
    """The right password: the account's tries from this address are forgotten, and this
    try is taken back from the address's count, and from the account's when it counted
    there (a free try: see `admit`). The rows are locked in the order `admit` locks them,
    so two logins of one account cannot deadlock."""
    found = (await session.exec(
        select(LoginFailure).where(col(LoginFailure.key).in_(keys.all()))
        .order_by(col(LoginFailure.key)).with_for_update()
        .execution_options(populate_existing=True))).all()
    rows = {r.key: r.failures for r in found}
    counted = (rows.get(keys.pair, 0) <= rules.pair_max
               and rows.get(keys.address, 0) <= rules.address_max)
    back = [keys.address, keys.account] if counted else [keys.address]
    await session.exec(update(LoginFailure).where(
        col(LoginFailure.key).in_(back), col(LoginFailure.failures) > 0,
    ).values(failures=col(LoginFailure.failures) - 1))
    await forget(session, [keys.pair])


async def locked_accounts(session: AsyncSession, rules: LoginRules, now: datetime
                          ) -> dict[str, LoginFailure]:
    """The locked accounts' counts, by account name (lower case)."""
    rows = (await session.exec(select(LoginFailure).where(
        col(LoginFailure.key).startswith(ACCOUNT, autoescape=True),
        col(LoginFailure.failures) >= rules.account_lock,
        col(LoginFailure.first_at) > now - rules.window))).all()
    return {r.key.removeprefix(ACCOUNT): r for r in rows}


async def unlock(session: AsyncSession, username: str) -> bool:
    """Lift an account's lock (an admin's act): its counts, from every address, are
    forgotten. Whether it was locked… or had any count at all."""
    name = username.strip().lower()
    done = await session.exec(delete(LoginFailure).where(or_(
        col(LoginFailure.key) == f"{ACCOUNT}{name}",
        col(LoginFailure.key).startswith(f"{PAIR}{name}|", autoescape=True))))
    return bool(done.rowcount)


async def purge(session: AsyncSession, before: datetime) -> None:
    """Forget counts whose window began before `before` (housekeeping)."""
    await session.exec(delete(LoginFailure).where(
        col(LoginFailure.first_at) < before))


async def forget(session: AsyncSession, keys: list[str]) -> None:
    await session.exec(delete(LoginFailure).where(LoginFailure.key.in_(keys)))  # type: ignore[attr-defined]


async def account_named(session: AsyncSession, username: str) -> ConsoleUser | None:
    return (await session.exec(select(ConsoleUser).where(
        ConsoleUser.username == username.strip()))).first()


def check_password(password_hash: str | None, password: str) -> bool:
    """Blocking (argon2, slow on purpose: run it in a thread). Without a hash (no such
    account) a real hash is checked all the same, so a wrong name takes as long as a wrong
    password, and the answer is False."""
    right = staff.verify_password(password_hash or _dummy_hash(), password)
    return right and password_hash is not None


async def count_try(session: AsyncSession, key: str, now: datetime, window: timedelta
                    ) -> tuple[int, datetime]:
    """One more try for `key` in one statement (an upsert, atomic on either database; on
    PostgreSQL a concurrent try for the same key waits for this transaction): the tries
    within the window so far, this one included, and when the window began."""
    stale = col(LoginFailure.first_at) <= now - window
    stmt = insert_for(session, LoginFailure).values(key=key, failures=1, first_at=now)
    stmt = stmt.on_conflict_do_update(index_elements=["key"], set_={
        "failures": case((stale, 1), else_=col(LoginFailure.failures) + 1),
        "first_at": case((stale, stmt.excluded.first_at), else_=col(LoginFailure.first_at)),
    }).returning(col(LoginFailure.failures), col(LoginFailure.first_at))
    tries, first_at = (await session.exec(stmt)).one()
    return tries, first_at


async def bind(session: AsyncSession, code: str, openid: str, now: datetime
               ) -> tuple[BindOutcome, ConsoleUser | None]:
    """绑定 CODE from a WeChat account, throttled: every try is counted first (so racing
    tries cannot slip past the count), the sixth within staff.BIND_LOCKOUT is refused —
    right code or not — with StaffError("bind_locked", minutes=until the window ends), and a
    right code clears the count."""
    key = f"bind:{openid}"
    tries, first_at = await count_try(session, key, now, staff.BIND_LOCKOUT)
    if tries > staff.BIND_MAX_TRIES:
        left = first_at + staff.BIND_LOCKOUT - now
        raise staff.StaffError("bind_locked", minutes=max(1, -(-left // timedelta(minutes=1))))
    outcome, user = await staff.bind(session, code, openid, now)
    if outcome is BindOutcome.BOUND:
        await forget(session, [key])
    return outcome, user
