"""Console accounts (instructors, group leaders, grid officers, admins) and their
one-time codes for binding a WeChat account with 绑定 CODE."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from datetime import datetime, timedelta
from enum import Enum

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import update
from sqlmodel import Field, SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models import staff_tags
from models.base import UTCDateTime
from models.errors import DomainError

ROLES = {"admin": "管理员", "instructor": "讲师", "leader": "党小组长", "officer": "网格员"}
BIND_CODE_TTL = timedelta(minutes=10)
# 绑定 CODE guessing: at most this many tries per openid within the window (counted in the
# database, see models/login_throttle.py `bind`); a right code clears the count.
BIND_MAX_TRIES = 5
BIND_LOCKOUT = timedelta(minutes=10)
# No look-alikes (0/O, 1/I/L): the code is read off a screen and typed on a phone.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 6
# The password hash of an account remove_accounts disabled (no password matches it).
REMOVED = "!removed"

# argon2-cffi's default (RFC 9106's low-memory choice: argon2id, 64 MiB, 3 passes). A hash
# made with other parameters still verifies, and is made anew at its next login
# (needs_rehash), so a later default reaches every account that logs in.
_hasher = PasswordHasher()


DISPLAY_NAME_MAX = 40


class ConsoleUser(SQLModel, table=True):
    __tablename__ = "console_user"

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=64, unique=True)
    # The person's name as pages show it (None: the name registered on the bound WeChat,
    # else the login; models/names.py).
    display_name: str | None = Field(default=None, max_length=DISPLAY_NAME_MAX)
    password_hash: str = Field(max_length=256)
    role: str = Field(max_length=16)
    grid_code: str | None = Field(default=None, max_length=32)
    group_code: str | None = Field(default=None, max_length=32)
    openid: str | None = Field(default=None, max_length=64, unique=True)
    active: bool = True
    created_at: datetime = Field(sa_type=UTCDateTime)
    # Every console session carries the value it was opened under; raising it (logout, a
    # new password, role or scope, disabling: see end_sessions) ends them all at once.
    session_version: int = Field(default=0, sa_column_kwargs={"server_default": "0"})

    @property
    def role_name(self) -> str:
        return ROLES.get(self.role, self.role)


class BindCode(SQLModel, table=True):
    __tablename__ = "bind_code"

    code: str = Field(primary_key=True, max_length=16)
    user_id: int = Field(foreign_key="console_user.id", index=True)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class StaffError(DomainError):
    """A console-account rule was broken (a code, see models/errors.py)."""


class BindOutcome(Enum):
    BOUND = "bound"
    UNKNOWN = "unknown"
    EXPIRED = "expired"
    USED = "used"


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def needs_rehash(password_hash: str) -> bool:
    """The hash was made with other parameters than today's (an older default)."""
    try:
        return _hasher.check_needs_rehash(password_hash)
    except InvalidHashError:
        return False


async def replace_hash(session: AsyncSession, user_id: int, old: str, new: str) -> None:
    """Store a password's hash made anew with today's parameters, unless the password
    changed meanwhile."""
    await session.exec(update(ConsoleUser).where(
        col(ConsoleUser.id) == user_id, col(ConsoleUser.password_hash) == old
    ).values(password_hash=new))


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def _new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


async def create_user(
    session: AsyncSession,
    username: str,
    role: str,
    password: str,
    now: datetime,
    grid_code: str | None = None,
    group_code: str | None = None,
    hashed: str | None = None,
    display_name: str | None = None,
) -> ConsoleUser:
    """`hashed`: a hash of `password` made already (the demo accounts' well-known one, so a
    dev start computes none); `display_name`: the person's name as pages show it."""
    if role not in ROLES:
        raise StaffError("unknown_role")
    if not username or len(username) > 64 or any(ch.isspace() for ch in username):
        raise StaffError("bad_username")
    if len(password) < 8:
        raise StaffError("short_password")
    if (await session.exec(select(ConsoleUser).where(ConsoleUser.username == username))).first():
        raise StaffError("username_taken")
    name = " ".join((display_name or "").split()) or None
    if name is not None and len(name) > DISPLAY_NAME_MAX:
        raise StaffError("long_display_name")
    user = ConsoleUser(
        username=username,
        display_name=name,
        password_hash=hashed or hash_password(password),
        role=role,
        grid_code=grid_code,
        group_code=group_code,
        created_at=now,
    )
    session.add(user)
    await session.flush()
    return user


def session_stamp(user: ConsoleUser) -> str:
    """What a console session must still match besides session_version: a digest of the
    password hash, role and scope (grid, group). A change to them made any way at all (a
    command, a page, by hand in SQL) ends the sessions opened before it."""
    raw = "\0".join((user.password_hash, user.role, user.grid_code or "", user.group_code or ""))
    return hashlib.sha256(raw.encode()).hexdigest()[:32]


async def end_sessions(session: AsyncSession, user_id: int) -> None:
    """End every console session of this account on every device (logout, a changed
    password, role or scope, disabling): one atomic increment, so racing changes never
    lose a bump."""
    await session.exec(update(ConsoleUser).where(col(ConsoleUser.id) == user_id)
                       .values(session_version=col(ConsoleUser.session_version) + 1))


async def user_named(session: AsyncSession, username: str) -> ConsoleUser | None:
    return (await session.exec(select(ConsoleUser).where(
        ConsoleUser.username == username.strip()))).first()


async def set_password(session: AsyncSession, user: ConsoleUser, password: str) -> None:
    """A new password; every session of the account ends."""
    if len(password) < 8:
        raise StaffError("short_password")
    user.password_hash = await asyncio.to_thread(hash_password, password)  # argon2 is slow
    await _changed(session, user)


async def set_role(session: AsyncSession, user: ConsoleUser, role: str,
                   grid_code: str | None, group_code: str | None, now: datetime) -> None:
    """A new role and scope (grid, group); every session of the account ends, and its
    WeChat account's tag follows the role (models/staff_tags.py)."""
    if role not in ROLES:
        raise StaffError("unknown_role")
    user.role, user.grid_code, user.group_code = role, grid_code, group_code
    if user.openid and user.active:
        await staff_tags.want(session, user.openid, role, now)
    await _changed(session, user)


async def set_active(session: AsyncSession, user: ConsoleUser, active: bool,
                     now: datetime) -> None:
    """Disable (also unbinding WeChat, whose account loses the role's tag) or enable an
    account; either way every session of it ends, so one opened before a disable stays
    dead after an enable."""
    user.active = active
    if not active:
        if user.openid:
            await staff_tags.want(session, user.openid, None, now)
        user.openid = None
    await _changed(session, user)


async def _changed(session: AsyncSession, user: ConsoleUser) -> None:
    session.add(user)
    await session.flush()
    assert user.id is not None
    await end_sessions(session, user.id)


async def issue_bind_code(session: AsyncSession, user: ConsoleUser, now: datetime) -> str:
    """A fresh one-time code for `绑定 CODE`, valid for ten minutes."""
    assert user.id is not None
    code = _new_code()
    session.add(BindCode(code=code, user_id=user.id, expires_at=now + BIND_CODE_TTL))
    await session.flush()
    return code


async def bind(
    session: AsyncSession, code: str, openid: str, now: datetime
) -> tuple[BindOutcome, ConsoleUser | None]:
    """Link the console account that showed `code` to this WeChat openid. Unthrottled:
    a WeChat word goes through models/login_throttle.py `bind` (BIND_MAX_TRIES)."""
    code = code.upper()
    # Spend the code in one conditional UPDATE: two people racing for it cannot both win.
    spent = (await session.exec(
        update(BindCode)
        .where(col(BindCode.code) == code, col(BindCode.used_at).is_(None),
               col(BindCode.expires_at) > now)
        .values(used_at=now).returning(col(BindCode.user_id)))).first()
    if spent is None:
        row = await session.get(BindCode, code)
        if row is None:
            return BindOutcome.UNKNOWN, None
        return (BindOutcome.USED if row.used_at is not None else BindOutcome.EXPIRED), None
    user = await session.get(ConsoleUser, spent[0])
    if user is None or not user.active:
        return BindOutcome.UNKNOWN, None
    if user.openid and user.openid != openid:  # the account moves to this WeChat user
        await staff_tags.want(session, user.openid, None, now)
    await unbind_openid(session, openid, now, untag=False)
    await session.flush()
    user.openid = openid
    session.add(user)
    await session.flush()
    # The role's user tag, put on by the scheduler's job: never an API call in the callback.
    await staff_tags.want(session, openid, user.role, now)
    return BindOutcome.BOUND, user


async def unbind_openid(session: AsyncSession, openid: str, now: datetime,
                        untag: bool = True) -> None:
    """This WeChat user is no console account's any more (and loses the staff tag)."""
    await session.exec(
        update(ConsoleUser).where(col(ConsoleUser.openid) == openid).values(openid=None)
    )
    if untag:
        await staff_tags.want(session, openid, None, now)


async def staff_for(session: AsyncSession, openid: str) -> ConsoleUser | None:
    stmt = select(ConsoleUser).where(ConsoleUser.openid == openid, ConsoleUser.active)
    return (await session.exec(stmt)).first()


async def active_accounts_named(session: AsyncSession, usernames: tuple[str, ...]
                                ) -> list[ConsoleUser]:
    """The active accounts among these names (e.g. the demo accounts, which prod refuses)."""
    stmt = select(ConsoleUser).where(col(ConsoleUser.username).in_(list(usernames)),
                                     ConsoleUser.active).order_by(col(ConsoleUser.username))
    return list((await session.exec(stmt)).all())


async def remove_accounts(session: AsyncSession, usernames: tuple[str, ...], now: datetime
                          ) -> dict[str, str]:
    """Delete these accounts and their bind codes; an account something still refers to
    (a group it leads) is disabled instead: inactive, unbound, no password can log in.
    Returns what happened to each one found: "deleted" or "disabled" (one an earlier run
    disabled is left as it is, and not named)."""
    from sqlalchemy import delete
    from sqlalchemy.exc import IntegrityError

    done: dict[str, str] = {}
    users = (await session.exec(select(ConsoleUser).where(
        col(ConsoleUser.username).in_(list(usernames))))).all()
    for user in users:
        name = user.username
        if not user.active and user.password_hash == REMOVED:  # disabled by an earlier run
            continue
        await session.exec(delete(BindCode).where(col(BindCode.user_id) == user.id))
        if user.openid:  # deleted or disabled, its WeChat account loses the staff tag
            await staff_tags.want(session, user.openid, None, now)
        try:
            async with session.begin_nested():
                await session.delete(user)
            done[name] = "deleted"
        except IntegrityError:
            await session.refresh(user)
            user.password_hash = REMOVED
            await set_active(session, user, False, now)
            done[name] = "disabled"
    return done
