"""Faults with real processes: a retry storm across two instances on one database (every
message sent three times within a second, to either instance) leaves exactly one effect
per message."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bot.dev.peer import WechatPeer
from bot.settings import load_settings
from models.checkin import Checkin
from models.report import Report
from tests.processes.test_command_line import ROOT, all_rows, env_for, free_port, run

USERS = 12


def _health(port: int) -> dict[str, str]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=3) as r:
        return json.loads(r.read())


def _post(port: int, params: dict[str, str], body: str) -> int:
    url = f"http://127.0.0.1:{port}/wechat?{urllib.parse.urlencode(params)}"
    req = urllib.request.Request(url, data=body.encode(), method="POST",
                                 headers={"Content-Type": "text/xml"})
    started = time.monotonic()
    with urllib.request.urlopen(req, timeout=10) as r:
        r.read()
        status = r.status
    assert time.monotonic() - started < 5  # within WeChat's deadline, even in the storm
    return status


def test_a_retry_storm_leaves_one_effect_each(db_url: str, tmp_path: Path) -> None:
    demo = load_settings(ROOT / "config.yaml").wechat
    peer = WechatPeer(demo.token, demo.app_id, demo.encoding_aes_key)
    ports = [free_port(), free_port()]
    members = tmp_path / "members.csv"
    members.write_text("openid,name,mobile,industry,platform,party_status\n" + "".join(
        f"o-storm{i},骑手{'甲乙丙丁戊己庚辛壬癸子丑'[i]},1390013{i:04d},外卖送餐,美团,中共党员\n"
        for i in range(USERS)), encoding="utf-8")
    env0 = env_for(db_url, ports[0])
    assert run(["import-members", str(members)], env0).returncode == 0
    stations = tmp_path / "stations.csv"
    stations.write_text("code,name,kind,lat,lng,hours\nHT01,湖塘红色驿站,驿站,31.7093,"
                        "119.9512,24h\n", encoding="utf-8")
    assert run(["import-stations", str(stations)], env0).returncode == 0
    procs = []
    logs = [tmp_path / f"serve-{port}.log" for port in ports]
    try:
        for port, log in zip(ports, logs, strict=True):
            with log.open("w") as out:
                procs.append(subprocess.Popen(
                    [sys.executable, "run.py", "serve"], cwd=ROOT, env=env_for(db_url, port),
                    stdout=out, stderr=subprocess.STDOUT))
        for port, log in zip(ports, logs, strict=True):
            deadline = time.monotonic() + 60
            while True:
                try:
                    _health(port)
                    break
                except OSError:
                    assert time.monotonic() < deadline, log.read_text()
                    time.sleep(0.2)
        # Each user scans the station's code and sends a one-line report start; WeChat
        # delivers every callback three times (same MsgId / same sender+time), to either
        # instance, all at once.
        sends = []
        now = int(time.time())
        for i in range(USERS):
            scan = peer.event(f"o-storm{i}", "SCAN", "st:HT01", create_time=now)
            text = peer.text(f"o-storm{i}", "我的签到", create_time=now,
                             msg_id=9_100_000 + i)
            for xml in (scan, text):
                signed = peer.sign(xml)
                sends += [(ports[(i + k) % 2], signed.params, signed.body) for k in range(3)]
        with ThreadPoolExecutor(max_workers=24) as pool:
            statuses = list(pool.map(lambda s: _post(*s), sends))
        assert statuses == [200] * len(sends)
        checkins = all_rows(db_url, Checkin)
        assert len(checkins) == USERS  # one per user, not three
        assert len({c.member_id for c in checkins}) == USERS
        assert all_rows(db_url, Report) == []
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
