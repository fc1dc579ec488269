"""The command line as a newcomer uses it: real processes, a real port."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def env_for(db_url: str, port: int, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("XIAOGE_")}
    env.update(XIAOGE_DATABASE__URL=db_url, XIAOGE_SERVER__PORT=str(port), **extra)
    return env


def run(args: list[str], env: dict[str, str], stdin: str = "", timeout: float = 60
        ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "run.py", *args], cwd=ROOT, env=env, input=stdin,
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def server(db_url: str) -> Iterator[tuple[int, dict[str, str]]]:
    port = free_port()
    env = env_for(db_url, port)
    proc = subprocess.Popen([sys.executable, "run.py", "serve"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                    assert r.status == 200
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    out = proc.stdout.read() if proc.stdout else ""
                    pytest.fail(f"server did not come up:\n{out}")
                time.sleep(0.2)
        yield port, env
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    out = proc.stdout.read() if proc.stdout else ""
    assert "Traceback" not in out, out
    assert "13800138000" not in out  # no phone number in the server's logs


def test_serve_then_chat_completes_a_registration(server: tuple[int, dict[str, str]]) -> None:
    _, env = server
    made = run(["create-user", "officer-li", "--role", "officer", "--grid", "HT-01"], env,
               stdin="password-123\n")
    assert made.returncode == 0, made.stderr
    code = re.search(r"绑定码：([A-Z0-9]{6})", made.stdout)
    assert code, made.stdout

    lines = ["注册", "张三", "13800138000", "2", "美团", "1", "同意", "我的",
             f"绑定 {code.group(1)}", "待办", ":image", ":loc 31.7,119.9 湖塘", ":quit"]
    chat = run(["chat", "--openid", "o-terminal"], env, stdin="\n".join(lines) + "\n")
    assert chat.returncode == 0, chat.stderr
    out = chat.stdout
    assert "登记完成，张三" in out
    assert "138****8000" in out
    assert "绑定成功：控制台账号 officer-li（网格员）" in out
    assert "「待办」的微信办理将在后续版本开放" in out

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
