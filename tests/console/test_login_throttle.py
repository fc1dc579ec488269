"""The login throttle through the real login form: counted per (account, address) and per
address with growing delays, exact under concurrent guesses, never locking the owner out
from another address; X-Forwarded-For believed only from server.trusted_proxies; a whole
account lock far above that, which an admin sees and lifts on the 控制台账号 page (by HTTP
here, in a real browser in the last test)."""

from __future__ import annotations

import asyncio
from typing import Any

from multidict import CIMultiDict
from sqlmodel import select

from bot.app import SERVICES, _housekeeping
from bot.settings import Settings
from bot.web.remote import client_address, networks, throttle_key
from models.login_throttle import LoginFailure
from tests.conftest import BotFactory
from tests.console_util import PASSWORD, make_user, page_csrf

PROXY = ["127.0.0.1"]  # the test client connects from here: it plays nginx


def tuned(settings: Settings, **sections: dict[str, Any]) -> Settings:
    """The settings with some keys of some sections changed."""
    return settings.model_copy(update={
        name: getattr(settings, name).model_copy(update=values)
        for name, values in sections.items()})


async def attempt(client: Any, token: str, username: str, password: str,
                  address: str | None = None) -> Any:
    headers = {"X-Forwarded-For": address} if address else {}
    return await client.post("/console/login", data={
        "_csrf": token, "username": username, "password": password, "next": "/console/"},
        headers=headers, allow_redirects=False)


async def counts(sessions: Any) -> dict[str, int]:
    async with sessions() as s:
        return {r.key: r.failures for r in (await s.exec(select(LoginFailure))).all()}


async def test_concurrent_guesses_are_counted_exactly_and_delays_grow(
        make_bot: BotFactory, settings: Settings, sessions: Any) -> None:
    bot = await make_bot(tuned(settings, server={"trusted_proxies": PROXY},
                               console={"login_queue": 20}))
    await make_user(sessions, bot.clock, "leader-zhou", "leader")
    token = await page_csrf(bot.client, "/console/login")
    guesser, owner = "203.0.113.5", "198.51.100.7"

    answers = await asyncio.gather(*(
        attempt(bot.client, token, "leader-zhou", f"guess-{i}", guesser) for i in range(15)))
    statuses = sorted(a.status for a in answers)
    assert statuses == [401] * 5 + [429] * 10, statuses  # exactly login_max_failures checked
    refused = [await a.text() for a in answers if a.status == 429]
    assert all("尝试次数过多，请 1 分钟后再试" in t for t in refused)
    assert {a.headers.get("Retry-After") for a in answers if a.status == 429} == {"60"}
    assert await counts(sessions) == {
        "pair:leader-zhou|203.0.113.5": 5, "addr:203.0.113.5": 5, "acct:leader-zhou": 5}

    # The throttle now refuses even the right password from that address …
    right = await attempt(bot.client, token, "leader-zhou", PASSWORD, guesser)
    assert right.status == 429 and "尝试次数过多" in await right.text()
    # … and the delays grow: after a minute one more guess, then two minutes to wait.
    bot.clock.advance(seconds=61)
    assert (await attempt(bot.client, token, "leader-zhou", "again", guesser)).status == 401
    later = await attempt(bot.client, token, "leader-zhou", PASSWORD, guesser)
    assert later.status == 429 and "请 2 分钟后再试" in await later.text()
    bot.clock.advance(seconds=121)
    # Meanwhile the owner, from another address, was never locked out.
    mine = await attempt(bot.client, token, "leader-zhou", PASSWORD, owner)
    assert mine.status == 303 and mine.headers["Location"] == "/console/"
    left = await counts(sessions)
    assert "pair:leader-zhou|198.51.100.7" not in left  # a success forgets its own count
    # … and takes back only its own try; the guesser's sixth, past its free five, never
    # counted towards the account's lock.
    assert left["acct:leader-zhou"] == 5
    assert left["pair:leader-zhou|203.0.113.5"] == 6


async def test_one_address_alone_cannot_lock_the_account(make_bot: BotFactory,
                                                          settings: Settings,
                                                          sessions: Any) -> None:
    """Guessing on and on from one address, waiting out every delay: only its free tries
    count towards the account's lock, so the owner's password still works from elsewhere —
    and from the same address once its delay is over."""
    bot = await make_bot(tuned(settings, server={"trusted_proxies": PROXY},
                               console={"login_account_lock": 8}))
    await make_user(sessions, bot.clock, "officer-qian", "officer")
    token = await page_csrf(bot.client, "/console/login")
    guesser = "203.0.113.9"
    checked = 0
    for i in range(30):
        answer = await attempt(bot.client, token, "officer-qian", f"guess-{i}", guesser)
        assert answer.status in (401, 429)
        checked += answer.status == 401
        bot.clock.advance(minutes=16)  # past the longest delay
    assert checked > 8  # more wrong passwords checked than the account lock allows …
    assert (await counts(sessions))["acct:officer-qian"] == 5  # … yet only the free five count
    mine = await attempt(bot.client, token, "officer-qian", PASSWORD, "198.51.100.8")
    assert mine.status == 303


async def test_one_address_guessing_many_accounts_waits(make_bot: BotFactory,
                                                         settings: Settings,
                                                         sessions: Any) -> None:
    bot = await make_bot(tuned(settings, console={"login_address_max_failures": 4}))
    await make_user(sessions, bot.clock, "admin-wu", "admin")
    token = await page_csrf(bot.client, "/console/login")
    for i in range(4):  # four made-up names, one wrong password each
        assert (await attempt(bot.client, token, f"nobody-{i}", "guess")).status == 401
    blocked = await attempt(bot.client, token, "admin-wu", PASSWORD)
    assert blocked.status == 429 and "请 1 分钟后再试" in await blocked.text()
    bot.clock.advance(minutes=2)
    assert (await attempt(bot.client, token, "admin-wu", PASSWORD)).status == 303


async def test_x_forwarded_for_is_believed_only_from_a_trusted_proxy(
        make_bot: BotFactory, settings: Settings, sessions: Any) -> None:
    # Not trusted: the header is the client's own word, so every guess is 127.0.0.1's.
    direct = await make_bot(settings)
    await make_user(sessions, direct.clock, "officer-li", "officer")
    token = await page_csrf(direct.client, "/console/login")
    for i in range(5):
        made_up = f"192.0.2.{10 + i}"
        assert (await attempt(direct.client, token, "officer-li", "guess", made_up)).status == 401
    refused = await attempt(direct.client, token, "officer-li", PASSWORD, "192.0.2.99")
    assert refused.status == 429
    assert set(await counts(sessions)) == {
        "pair:officer-li|127.0.0.1", "addr:127.0.0.1", "acct:officer-li"}

    # Behind a trusted proxy each client is itself; a forged hop left of nginx's is ignored.
    proxied = await make_bot(tuned(settings, server={"trusted_proxies": PROXY}))
    token = await page_csrf(proxied.client, "/console/login")
    for i in range(5):
        chain = f"10.9.9.9, 192.0.2.{20 + i}"  # "10.9.9.9" was sent by the client itself
        assert (await attempt(proxied.client, token, "officer-li", "guess", chain)).status == 401
    ok = await attempt(proxied.client, token, "officer-li", PASSWORD, "10.9.9.9, 192.0.2.99")
    assert ok.status == 303
    keys = set(await counts(sessions))
    assert "pair:officer-li|192.0.2.20" in keys and not any("10.9.9.9" in k for k in keys)


def test_the_client_address_rules() -> None:
    nginx = networks(["10.0.0.0/8", "::1"])

    def of(peer: str, **headers: str) -> str | None:
        return client_address(peer, CIMultiDict({k.replace("_", "-"): v
                                                 for k, v in headers.items()}), nginx)

    assert of("203.0.113.1", X_Forwarded_For="1.2.3.4") == "203.0.113.1"  # not a proxy
    assert of("10.0.0.2", X_Forwarded_For="1.2.3.4, 198.51.100.3") == "198.51.100.3"
    assert of("10.0.0.2", X_Forwarded_For="198.51.100.3, 10.0.0.7") == "198.51.100.3"
    assert of("10.0.0.2", X_Real_IP="198.51.100.4") == "198.51.100.4"
    assert of("10.0.0.2", X_Forwarded_For="not-an-address") == "10.0.0.2"
    assert of("10.0.0.2") == "10.0.0.2"
    assert of("::1", X_Forwarded_For="::ffff:198.51.100.5") == "198.51.100.5"
    assert throttle_key("2001:db8:1:2:3:4:5:6") == "2001:db8:1:2::/64"
    assert throttle_key(None) == "-"


async def test_an_admin_sees_and_lifts_an_account_lock(make_bot: BotFactory,
                                                       settings: Settings,
                                                       sessions: Any) -> None:
    bot = await make_bot(tuned(settings, server={"trusted_proxies": PROXY},
                               console={"login_account_lock": 3}))
    await make_user(sessions, bot.clock, "admin-wu", "admin")
    await make_user(sessions, bot.clock, "officer-li", "officer")
    await make_user(sessions, bot.clock, "leader-zhou", "leader")
    token = await page_csrf(bot.client, "/console/login")
    for i in range(3):  # one wrong guess from each of three addresses: the account locks
        assert (await attempt(bot.client, token, "officer-li", "guess",
                              f"192.0.2.{i}")).status == 401
    locked = await attempt(bot.client, token, "officer-li", PASSWORD, "198.51.100.1")
    assert locked.status == 429 and "已被锁定" in await locked.text()

    # A leader neither sees the page nor may lift the lock.
    assert (await attempt(bot.client, token, "leader-zhou", PASSWORD, "198.51.100.2")
            ).status == 303
    csrf = await page_csrf(bot.client)
    assert (await bot.client.get("/console/members/staff")).status == 404
    refused = await bot.client.post("/console/members/staff/unlock", data={
        "_csrf": csrf, "username": "officer-li"}, allow_redirects=False)
    assert refused.status == 404
    await bot.client.post("/console/logout", data={"_csrf": csrf})

    token = await page_csrf(bot.client, "/console/login")
    assert (await attempt(bot.client, token, "admin-wu", PASSWORD, "198.51.100.3")
            ).status == 303
    page = await (await bot.client.get("/console/members/staff")).text()
    assert "登录已锁定的账号" in page and "解除 officer-li 的锁定" in page
    assert "解除 admin-wu 的锁定" not in page
    csrf = await page_csrf(bot.client, "/console/members/staff")
    lifted = await bot.client.post("/console/members/staff/unlock", data={
        "_csrf": csrf, "username": "officer-li"}, allow_redirects=False)
    assert lifted.status == 303
    after = await (await bot.client.get(lifted.headers["Location"])).text()
    assert "已解除 officer-li 的登录锁定" in after and "登录已锁定的账号" not in after
    assert not any(k.startswith(("acct:officer-li", "pair:officer-li"))
                   for k in await counts(sessions))
    await bot.client.post("/console/logout", data={"_csrf": await page_csrf(bot.client)})

    token = await page_csrf(bot.client, "/console/login")
    assert (await attempt(bot.client, token, "officer-li", PASSWORD, "198.51.100.1")
            ).status == 303


async def test_counts_older_than_the_window_are_purged(make_bot: BotFactory,
                                                       sessions: Any) -> None:
    bot = await make_bot()
    token = await page_csrf(bot.client, "/console/login")
    assert (await attempt(bot.client, token, "nobody", "guess")).status == 401
    bot.clock.advance(hours=25)  # console.login_window is 24 h
    assert (await attempt(bot.client, token, "someone", "guess")).status == 401
    await _housekeeping(bot.client.server.app[SERVICES], bot.clock.now())
    assert await counts(sessions) == {  # the address's count had started afresh
        "acct:someone": 1, "pair:someone|127.0.0.1": 1, "addr:127.0.0.1": 1}
