"""bench/statements.py, the SQL round trips per callback that `make bench` prints: it drives
the bot's real app through signed /wechat callbacks and counts what SQLAlchemy sends. The
counts change as the callback path changes; what must hold is that they measure real work
(the check-ins happen, every first attempt is one transaction) and that WeChat's retry of
a message gets the stored reply without the handler's work."""

from __future__ import annotations

from pathlib import Path

from bench.statements import SCENARIOS, measure
from bot import texts as T


async def test_counts_are_of_real_callbacks_and_a_retry_skips_the_handler(
        db_url: str, tmp_path: Path) -> None:
    counts = await measure(db_url, tmp_path)

    assert list(counts) == SCENARIOS
    for name, c in counts.items():
        for n in (c.statements, c.begins, c.commits, c.round_trips):
            assert isinstance(n, int) and n >= 0, (name, c)
        assert c.statements > 0 and c.round_trips >= c.statements, (name, c)
        assert c.rollbacks == 0, (name, c.sql)
        assert len(c.sql) == c.statements
    for name in ("帮助", "帮助 (safe mode)", "scan check-in", "location check-in",
                 "report step"):
        assert counts[name].commits == 1, (name, counts[name])  # one transaction

    # The check-ins were done (a registered member, a known station), not refused.
    done = T.CHECKIN_DONE.split("{")[0]
    assert counts["scan check-in"].reply.startswith(done), counts["scan check-in"].reply
    assert counts["location check-in"].reply.startswith(done), counts["location check-in"].reply
    assert counts["report step"].reply not in (counts["帮助"].reply, "")

    first, retry = counts["帮助"], counts["帮助 (retry)"]
    assert retry.reply == first.reply and first.reply.startswith(T.HELP_HEADER)
    assert retry.round_trips < first.round_trips, (first.sql, retry.sql)
    assert retry.statements < first.statements
    assert retry.commits <= 1

    # Safe mode: the msg_signature covers the body, so no signature is noted for replays.
    safe = counts["帮助 (safe mode)"]
    assert safe.reply == first.reply
    assert safe.statements == first.statements - 1, (first.sql, safe.sql)
    assert not any("seen_callback" in sql for sql in safe.sql)
    assert any("seen_callback" in sql for sql in first.sql)
