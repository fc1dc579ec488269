"""The two dedup keys, as pure functions: the callback's message key (a WeChat retry finds
the first attempt's claim) and the outbox's idempotency key (a second enqueue of the same
push is a no-op)."""

from __future__ import annotations

from dataclasses import replace

from bot.wechat.message import Inbound
from models.outbox import idem_key

TEXT = Inbound(openid="o-1", account="gh_x", create_time=1_764_900_000, msg_type="text",
               msg_id=42, content="帮助")
SCAN = Inbound(openid="o-1", account="gh_x", create_time=1_764_900_000, msg_type="event",
               event="scan", key="st:HT01")


def test_a_retry_of_a_message_has_its_key() -> None:
    retry = replace(TEXT, create_time=TEXT.create_time + 5)  # WeChat keeps the MsgId
    assert retry.dedup_key == TEXT.dedup_key
    assert replace(TEXT, msg_id=43).dedup_key != TEXT.dedup_key


def test_a_message_key_is_scoped_to_its_sender() -> None:
    """Two users' messages never share a claim, even with a clashing MsgId."""
    assert replace(TEXT, openid="o-2").dedup_key != TEXT.dedup_key


def test_an_event_is_keyed_by_sender_time_event_and_key() -> None:
    assert replace(SCAN).dedup_key == SCAN.dedup_key
    for other in (replace(SCAN, openid="o-2"), replace(SCAN, create_time=SCAN.create_time + 1),
                  replace(SCAN, event="subscribe_scan"), replace(SCAN, key="st:HT02")):
        assert other.dedup_key != SCAN.dedup_key


def test_keys_are_short_and_fixed_length() -> None:
    """They are stored as primary keys: 40 hex characters, whatever the input."""
    long = replace(SCAN, key="x" * 500)
    assert {len(k.dedup_key) for k in (TEXT, SCAN, long)} == {40}
    assert all(c in "0123456789abcdef" for c in long.dedup_key)


def test_a_push_is_one_per_kind_subject_and_recipient() -> None:
    key = idem_key("course_reminder", "course:1:remind3600:r0", "o-1")
    assert key == idem_key("course_reminder", "course:1:remind3600:r0", "o-1")
    assert len({key, idem_key("notice", "course:1:remind3600:r0", "o-1"),
                idem_key("course_reminder", "course:2:remind3600:r0", "o-1"),
                idem_key("course_reminder", "course:1:remind3600:r0", "o-2")}) == 4
