"""What mode: prod refuses at start: a database a dev run left its demo accounts in (until
`run.py remove-demo-accounts`), and what it does for the console: a Secure session cookie."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.browser_util import running_server
from tests.conftest import BotFactory
from tests.processes.test_command_line import ROOT, all_rows, env_for, free_port, run, wait_until

PROD_CONFIG = (
    "mode: prod\n"
    "server: {log_format: text, event_loop: asyncio}\n"
    "wechat:\n"
    "  token: realToken2026\n"
    "  app_id: wx1234567890abcdef\n"
    "  app_secret: 0123456789abcdef0123456789abcdef\n"
    "  encoding_aes_key: RealEncodingAesKey0123456789abcdefghijklmno\n"
    "  api_base_url: http://127.0.0.1:9/unused\n"
    "  templates: {}\n"
    "api:\n"
    "  token: Zq3vN8xL2mK7pR4tW9bC1yF6hJ0sD5gA-_uEoIiT\n"
    "console:\n"
    "  secret_key: k7Qz-9vXb2Lm_T4pWc8Rn1Hs6Jd3Fg5YaE0u\n"
)


def _healthy(port: int) -> bool:
    import urllib.request

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as resp:
        return resp.status == 200


def test_prod_refuses_a_database_with_the_demo_accounts_until_they_are_removed(
        db_url: str, tmp_path: Path) -> None:
    from bot.dev.demo import DEMO_ACCOUNTS
    from models.staff import BindCode, ConsoleUser

    assert set(DEMO_ACCOUNTS) == {"demo-admin", "demo-officer", "demo-teacher", "demo-leader"}

    (tmp_path / "dev").mkdir()
    with running_server(tmp_path / "dev", db_url):  # a dev run: the demo accounts are made
        pass
    assert {u.username for u in all_rows(db_url, ConsoleUser)} >= set(DEMO_ACCOUNTS)

    config = tmp_path / "prod.yaml"
    config.write_text(PROD_CONFIG, encoding="utf-8")
    port = free_port()
    env = env_for(db_url, port)

    refused = run(["--config", str(config), "serve"], env)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert all(name in refused.stderr for name in DEMO_ACCOUNTS), refused.stderr
    assert "python run.py remove-demo-accounts" in refused.stderr
    assert "Traceback" not in refused.stderr

    removed = run(["--config", str(config), "remove-demo-accounts"], env)
    assert removed.returncode == 0, removed.stderr
    for name in ("demo-admin", "demo-officer", "demo-teacher"):
        assert f"{name}：已删除" in removed.stdout, removed.stdout
    # The demo group still names its leader: that account is disabled instead.
    assert "demo-leader：仍被引用，已停用" in removed.stdout, removed.stdout
    left = [u for u in all_rows(db_url, ConsoleUser) if u.username in DEMO_ACCOUNTS]
    assert [(u.username, u.active, u.password_hash) for u in left] == [
        ("demo-leader", False, "!removed")]
    assert all_rows(db_url, BindCode) == []

    again = run(["--config", str(config), "remove-demo-accounts"], env)
    assert again.returncode == 0 and "没有演示账号" in again.stdout

    log = tmp_path / "prod.log"
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, "run.py", "--config", str(config), "serve"],
                                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: proc.poll() is not None or _healthy(port), 60, "the prod server")
        assert proc.poll() is None, log.read_text()
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
    assert "Traceback" not in log.read_text()


async def test_a_dev_account_named_like_the_demo_but_disabled_does_not_block(
        db_url: str, sessions: Any, clock: Any) -> None:
    """remove-demo-accounts disables an account something still refers to; a disabled
    demo account is no longer one prod refuses, and its password no longer logs in."""
    from sqlalchemy.exc import IntegrityError
    from sqlmodel import select

    from models import staff
    from models.login_throttle import account_named, check_password

    async with sessions() as s, s.begin():
        user = await staff.create_user(s, "demo-admin", "admin", "xiaoge-demo", clock.now())
        await staff.issue_bind_code(s, user, clock.now())
        assert [u.username for u in await staff.active_accounts_named(
            s, ("demo-admin", "demo-officer"))] == ["demo-admin"]

    async def _refuse_delete(*_: Any, **__: Any) -> None:
        raise IntegrityError("DELETE", {}, Exception("still referred to"))

    async with sessions() as s, s.begin():
        s.delete = _refuse_delete  # as if a group still named it its leader
        assert await staff.remove_accounts(s, ("demo-admin", "demo-officer"), clock.now()) == {
            "demo-admin": "disabled"}
    async with sessions() as s:
        assert await staff.active_accounts_named(s, ("demo-admin", "demo-officer")) == []
        user = await account_named(s, "demo-admin")  # what the login reads, then checks
        assert user is not None and not user.active
        assert not check_password(user.password_hash, "xiaoge-demo")  # its password is gone
        [kept] = (await s.exec(select(staff.ConsoleUser))).all()
        assert not kept.active and kept.openid is None
        assert (await s.exec(select(staff.BindCode))).all() == []


async def test_the_session_cookie_is_secure_in_prod(make_bot: BotFactory, settings: Any
                                                    ) -> None:
    dev = await make_bot()
    dev_cookie = (await dev.client.get("/console/login")).headers["Set-Cookie"]
    assert "xiaoge_console=" in dev_cookie and "Secure" not in dev_cookie

    prod = settings.model_copy(deep=True)
    prod.mode = "prod"
    bot = await make_bot(prod, sandbox=None, background=False)
    cookie = (await bot.client.get("/console/login")).headers["Set-Cookie"]
    assert "xiaoge_console=" in cookie
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
