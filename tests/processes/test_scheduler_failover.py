"""Two real `serve` processes on one database: a course changed through one instance plans
its reminder as a due row in that change's transaction; the scheduler leader is killed with
kill -9 before the reminder is due; the other instance's outbox worker sends it, and it
reaches every enrollee exactly once."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bot.dev.peer import WechatPeer
from bot.settings import load_settings
from models.due import DuePush
from models.outbox import Push
from tests.processes.test_command_line import ROOT, all_rows, env_for, free_port, run

API = "Bearer xiaoge-demo-api-token"
DUE_IN_S = 30  # the reminder falls due this long after the course is created


def _get(port: int, path: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
        return json.loads(r.read())


def _post_json(port: int, path: str, body: dict[str, Any]) -> dict[str, Any]:
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method="POST",
                                 data=json.dumps(body).encode(),
                                 headers={"Authorization": API,
                                          "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


def _say(peer: WechatPeer, port: int, openid: str, words: str) -> str:
    signed = peer.sign(peer.text(openid, words))
    url = f"http://127.0.0.1:{port}/wechat?{urllib.parse.urlencode(signed.params)}"
    req = urllib.request.Request(url, data=signed.body.encode(), method="POST",
                                 headers={"Content-Type": "text/xml"})
    with urllib.request.urlopen(req, timeout=10) as r:
        fields = peer.read_reply(r.read().decode())
    return (fields or {}).get("Content", "")


def _planned(db_url: str) -> list[str]:
    return [f"{r.subject}:remind:{r.slot}" for r in all_rows(db_url, DuePush)
            if r.status == "pending"]


def test_two_instances_remind_once_even_when_the_leader_dies(pg_db_url: str) -> None:
    """On PostgreSQL, as deployed (docs/deploy.md); the SQLite file lock's takeover is
    tested in test_processes."""
    db_url = pg_db_url
    demo = load_settings(ROOT / "config.yaml").wechat
    peer = WechatPeer(demo.token, demo.app_id, demo.encoding_aes_key)
    ports = [free_port(), free_port()]
    logs = [tempfile.TemporaryFile(mode="w+") for _ in ports]  # noqa: SIM115 (closed below)
    procs: list[subprocess.Popen[str]] = []
    env0 = env_for(db_url, ports[0])
    members = Path(tempfile.mkdtemp()) / "members.csv"
    members.write_text("openid,name,mobile,industry,platform,party_status\n" + "".join(
        f"o-p{i},学员{'甲乙丙'[i]},1380013800{i},外卖送餐,美团,中共党员\n" for i in range(3)),
        encoding="utf-8")
    assert run(["import-members", str(members)], env0).returncode == 0
    try:
        for port, log in zip(ports, logs, strict=True):
            env = env_for(db_url, port, XIAOGE_SERVER__SCHEDULER_TAKEOVER_S="1",
                          XIAOGE_SCHOOL__REMINDER_OFFSETS='["1h"]')
            procs.append(subprocess.Popen([sys.executable, "run.py", "serve"], cwd=ROOT,
                                          env=env, stdout=log, stderr=subprocess.STDOUT,
                                          text=True))
            deadline = time.monotonic() + 60
            while True:
                try:
                    _get(port, "/healthz")
                    break
                except OSError:
                    assert time.monotonic() < deadline, "an instance did not come up"
                    time.sleep(0.2)
        time.sleep(2)
        roles = [_get(p, "/healthz")["scheduler"] for p in ports]
        assert sorted(roles) == ["leader", "standby"], roles
        leader = roles.index("leader")
        standby_port = ports[1 - leader]

        # The course is made through the standby: its reminder is a row in the database.
        start = datetime.now(UTC) + timedelta(hours=1, seconds=DUE_IN_S)
        _post_json(standby_port, "/api/v1/courses", {
            "code": "DX2612P", "title": "两个实例的课", "start": start.isoformat(),
            "end": (start + timedelta(hours=1)).isoformat(), "capacity": 10, "hours": 1,
            "online_url": "https://meeting.example.cn/j/9"})
        for i in range(3):  # enrolments through both instances
            reply = _say(peer, ports[i % 2], f"o-p{i}", "报名 DX2612P")
            assert reply.startswith("✅ 报名成功"), reply
        assert _planned(db_url) == ["course:1:remind:3600"]  # planned with the course

        procs[leader].send_signal(signal.SIGKILL)  # the leader dies with the reminder planned
        procs[leader].wait()

        def reminded() -> list[Push]:
            return [p for p in all_rows(db_url, Push) if ":remind3600:" in p.subject]

        deadline = time.monotonic() + DUE_IN_S + 30
        while len(reminded()) < 3:
            assert time.monotonic() < deadline, "the reminder never came"
            time.sleep(0.5)
        time.sleep(2)  # long enough for a second firing, were there one
        rows = reminded()
        assert sorted(p.openid for p in rows) == ["o-p0", "o-p1", "o-p2"]
        due = start - timedelta(hours=1)
        assert all(p.created_at >= due - timedelta(seconds=1) for p in rows)  # not early
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
    outputs = []
    for log in logs:
        log.seek(0)
        outputs.append(log.read())
    fired = sum(out.count("course reminder 1/3600s: 3 queued") for out in outputs)
    assert fired == 1, outputs  # one firing in all: not once per instance
    assert "Traceback" not in outputs[1 - leader], outputs[1 - leader]
