"""The command line as a newcomer uses it: real processes, a real port."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def env_for(db_url: str, port: int, **extra: str) -> dict[str, str]:
    """A real process's environment: its database and port; in dev mode the basic demo data
    (accounts, stations, grids), so the tests count only what they make themselves."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("XIAOGE_")}
    env.update(XIAOGE_DATABASE__URL=db_url, XIAOGE_SERVER__PORT=str(port),
               XIAOGE_DEV__DEMO_DATA="basic")
    env.update(extra)
    return env


def all_rows(url: str, table: Any) -> list[Any]:
    """Every row of a table, read from a synchronous test (outside any event loop)."""
    import asyncio

    from sqlmodel import select

    from bot.db import make_engine, session_factory

    async def _read() -> list[Any]:
        engine = make_engine(url)
        try:
            async with session_factory(engine)() as session:
                return list((await session.exec(select(table))).all())
        finally:
            await engine.dispose()

    return asyncio.run(_read())


def run(args: list[str], env: dict[str, str], stdin: str = "", timeout: float = 60
        ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "run.py", *args], cwd=ROOT, env=env, input=stdin,
                          capture_output=True, text=True, timeout=timeout)


def http_json(url: str, payload: dict[str, Any] | None = None, method: str | None = None,
              headers: dict[str, str] | None = None, timeout: float = 5) -> Any:
    data = json.dumps(payload).encode() if payload is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers={
        "Content-Type": "application/json", **(headers or {})})
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        return json.loads(resp.read())


def wait_until(check: Callable[[], Any], timeout: float, what: str, every: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if result := check():
                return result
        except OSError:
            pass
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


@pytest.fixture
def server(db_url: str, tmp_path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    """A real `serve` on the test database (its log is checked for tracebacks and
    phone numbers when it stops)."""
    from tests.browser_util import running_server

    with running_server(tmp_path, db_url) as (_base, env):
        yield int(env["XIAOGE_SERVER__PORT"]), env


def test_serve_then_chat_completes_a_registration(server: tuple[int, dict[str, str]]) -> None:
    _, env = server
    made = run(["create-user", "officer-li", "--role", "officer", "--grid", "HT-01"], env,
               stdin="password-123\n")
    assert made.returncode == 0, made.stderr
    code = re.search(r"绑定码：([A-Z0-9]{6})", made.stdout)
    assert code, made.stdout

    lines = ["注册", "张三", "13800138000", "2", "美团", "1", "同意", "我的", ":voice",
             f"绑定 {code.group(1)}", "待办", ":image", ":loc 31.7,119.9 湖塘", ":quit"]
    chat = run(["chat", "--openid", "o-terminal"], env, stdin="\n".join(lines) + "\n")
    assert chat.returncode == 0, chat.stderr
    out = chat.stdout
    assert "登记完成，张三" in out
    assert "138****8000" in out
    assert "没听清这条语音" in out  # `:voice` alone: a voice without recognised words
    assert "绑定成功：控制台账号 officer-li（网格员）" in out
    assert "您负责的网格没有待办的上报" in out

    aes = run(["chat", "--openid", "o-terminal", "--aes"], env, stdin="我的\n")
    assert "138****8000" in aes.stdout, aes.stdout + aes.stderr


def test_chat_says_so_when_no_bot_is_running() -> None:
    env = env_for("sqlite+aiosqlite:////tmp/unused.db", free_port())
    chat = run(["chat", "--openid", "x"], env, stdin="帮助\n")
    assert chat.returncode == 0
    assert "连不上机器人" in chat.stdout


def test_invalid_config_fails_at_start_naming_the_key(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("wechat:\n  max_clock_skew_s: soon\n", encoding="utf-8")
    env = env_for("sqlite+aiosqlite:////tmp/unused.db", free_port())
    result = run(["--config", str(bad), "migrate"], env)
    assert result.returncode == 2
    assert "wechat.max_clock_skew_s" in result.stderr and "Traceback" not in result.stderr

    result = run(["--config", str(tmp_path / "missing.yaml")], env)
    assert result.returncode == 2 and "配置文件不存在" in result.stderr


def test_prod_mode_refuses_demo_credentials() -> None:
    env = env_for("sqlite+aiosqlite:////tmp/unused.db", free_port(), XIAOGE_MODE="prod")
    result = run(["serve"], env)
    assert result.returncode == 2
    assert "wechat.token" in result.stderr and "demo" in result.stderr


def test_create_user_refuses_bad_input(db_url: str) -> None:
    env = env_for(db_url, free_port())
    short = run(["create-user", "x", "--role", "admin"], env, stdin="short\n")
    assert short.returncode == 2 and "密码至少8位" in short.stderr
    bad_role = run(["create-user", "x", "--role", "boss"], env, stdin="password-123\n")
    assert bad_role.returncode == 2 and "invalid choice" in bad_role.stderr
    ok = run(["create-user", "dup", "--role", "leader", "--group", "G1"], env,
             stdin="password-123\n")
    assert ok.returncode == 0, ok.stderr
    again = run(["create-user", "dup", "--role", "leader"], env, stdin="password-123\n")
    assert again.returncode == 2 and "用户名已存在" in again.stderr


def test_migrate_is_idempotent(db_url: str) -> None:
    env = env_for(db_url, free_port())
    for _ in range(2):
        result = run(["migrate"], env)
        assert result.returncode == 0, result.stderr
        assert "数据库已是最新结构" in result.stdout


def test_pushes_from_the_command_line_reach_the_chat(server: tuple[int, dict[str, str]],
                                                    tmp_path: Path) -> None:
    """import-members, notify and menu against a running dev bot; the chat shows the push."""
    _, env = server
    members = tmp_path / "members.csv"
    members.write_text("openid,name,mobile,industry,platform,party_status\n"
                       "imp-1,王小明,13800000001,2,美团,1\n"
                       "imp-2,李小红,13800000002,外卖送餐,饿了么,预备党员\n", encoding="utf-8")
    imported = run(["import-members", str(members)], env)
    assert imported.returncode == 0, imported.stderr
    assert "新增 2，更新 0，未变 0" in imported.stdout

    chat = subprocess.Popen([sys.executable, "run.py", "chat", "--openid", "o-listener"],
                            cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert chat.stdin is not None
    for line in ("注册", "赵大", "13911112222", "1", "顺丰", "1", "同意"):
        chat.stdin.write(line + "\n")
    chat.stdin.flush()
    time.sleep(2.5)  # the chat has registered and is listening for pushes

    # Not `all`: dev mode's demo members (bot/dev/demo.py) are registered too.
    sent = run(["notify", "--audience", "member:imp-1,imp-2,o-listener", "--title", "暴雨预警",
                "--body", "下午有暴雨，就近到驿站避雨。"], env)
    assert sent.returncode == 0, sent.stderr
    assert "3 位接收人" in sent.stdout
    assert "已发送 3：客服消息 1，模板消息 2" in sent.stdout  # the chat user wrote just now
    out, err = chat.communicate(timeout=30)
    assert "📨 客服消息：【通知】暴雨预警" in out, out + err

    nobody = run(["notify", "--audience", "industry:其他", "--title", "x", "--body", "y"], env)
    assert nobody.returncode == 2 and "没有任何已登记的用户" in nobody.stderr

    menu = run(["menu"], env)
    assert menu.returncode == 0, menu.stderr
    assert "菜单已推送（3 个一级菜单，11 个按钮）" in menu.stdout
    for role in ("网格员菜单", "党小组长菜单", "讲师菜单", "管理员菜单"):  # conditional, by tag
        assert role + "已推送" in menu.stdout and "menuid" in menu.stdout, menu.stdout
    again = run(["menu"], env)  # idempotent: the old conditional menus go first
    assert again.returncode == 0 and "已删除旧的个性化菜单 4 个" in again.stdout, again.stderr
    assert again.stdout.count("菜单已推送") == 5

    broken = tmp_path / "broken.csv"
    broken.write_text("openid,name,mobile,industry,platform,party_status\n"
                      "imp-3,王3,13800000001,2,美团,1\n", encoding="utf-8")
    refused = run(["import-members", str(broken)], env)
    assert refused.returncode == 2 and "第2行：name: 姓名里不能有数字" in refused.stderr


def test_production_qr_codes_come_from_the_api(tmp_path: Path, db_url: str) -> None:
    """In prod, `qrcodes` asks WeChat (here the sandbox, standing alone) for permanent codes
    and remembers each code's URL, so the menu's scan button can find the scene."""

    from models.qr import QrCode

    port = free_port()
    config = tmp_path / "prod.yaml"
    config.write_text(
        "mode: prod\n"
        "wechat:\n"
        "  token: realToken123\n"
        "  app_id: wx1234567890abcdef\n"
        "  app_secret: a-real-looking-secret\n"
        "  encoding_aes_key: AbCdEfGhIjKlMnOpQrStUvWxYz0123456789abcdefg\n"
        f"  api_base_url: http://127.0.0.1:{port}/sandbox\n"
        "api:\n"
        "  token: a-real-api-token-of-some-length-2\n"
        "console:\n"
        "  secret_key: a-real-console-secret-of-some-length\n", encoding="utf-8")
    env = env_for(db_url, free_port())
    sandbox = subprocess.Popen([sys.executable, "-m", "bot.dev.sandbox", "--config", str(config),
                                "--port", str(port)], cwd=ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        stations = tmp_path / "s.csv"
        stations.write_text("code,name,kind,lat,lng,hours\nHT01,湖塘驿站,驿站,31.7093,119.9512,24h\n",
                            encoding="utf-8")
        assert run(["--config", str(config), "import-stations", str(stations)],
                   env).returncode == 0
        deadline = time.monotonic() + 20
        while True:
            made = run(["--config", str(config), "qrcodes", "--out", str(tmp_path / "qr")], env)
            if made.returncode == 0 or time.monotonic() > deadline:
                break
            time.sleep(0.3)  # the sandbox is still starting
        assert made.returncode == 0, made.stderr
        # Run again (a reprint): the permanent code already made is reused, not made anew.
        again = run(["--config", str(config), "qrcodes", "--out", str(tmp_path / "qr2")], env)
        assert again.returncode == 0, again.stderr
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/sandbox/control/stats") as resp:
            calls = json.loads(resp.read())["calls"]
        assert calls["/cgi-bin/qrcode/create"] == 1 and calls["/cgi-bin/showqrcode"] == 2
    finally:
        sandbox.terminate()
        sandbox.wait(timeout=10)
    assert (tmp_path / "qr" / "station-HT01.png").read_bytes().startswith(b"\x89PNG")
    assert (tmp_path / "qr2" / "station-HT01.png").read_bytes() == \
        (tmp_path / "qr" / "station-HT01.png").read_bytes()

    [code] = all_rows(db_url, QrCode)
    assert code.scene == "st:HT01" and code.url.startswith("http://weixin.qq.com/q/")


def test_a_standby_takes_over_the_scheduler_when_the_leader_dies(db_url: str) -> None:
    """Two real instances on one database: one runs the scheduler; kill -9 it, and the
    other takes over."""
    import json

    ports = [free_port(), free_port()]
    procs = []

    def health(port: int) -> dict[str, str]:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
            return json.loads(r.read())

    try:
        for port in ports:
            env = env_for(db_url, port, XIAOGE_SERVER__SCHEDULER_TAKEOVER_S="1")
            procs.append(subprocess.Popen([sys.executable, "run.py", "serve"], cwd=ROOT,
                                          env=env, stdout=subprocess.DEVNULL,
                                          stderr=subprocess.DEVNULL))
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                try:
                    health(port)
                    break
                except OSError:
                    time.sleep(0.2)
        time.sleep(2)
        roles = [health(p)["scheduler"] for p in ports]
        assert sorted(roles) == ["leader", "standby"], roles
        leader = roles.index("leader")
        procs[leader].send_signal(signal.SIGKILL)
        procs[leader].wait()
        other = ports[1 - leader]
        deadline = time.monotonic() + 20
        while health(other)["scheduler"] != "leader":
            assert time.monotonic() < deadline, "the standby never took over"
            time.sleep(0.3)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
