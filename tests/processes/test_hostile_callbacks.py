"""Hostile input at /wechat, property-based (hypothesis), against a real `run.py serve`:
random and mutated XML, signed and unsigned, odd query strings and bodies. Whatever
arrives, the answer is a 2xx or a 4xx within seconds — never a 5xx, never a hang — and a
body over the size limit is refused before it is read whole."""

from __future__ import annotations

import http.client
import socket
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.dev.peer import WechatPeer
from bot.settings import load_settings
from tests.browser_util import ROOT, running_server

ANSWER_WITHIN_S = 6.0
EXAMPLES = settings(max_examples=120, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])
DEMO = load_settings(ROOT / "config.yaml").wechat
PEER = WechatPeer(DEMO.token, DEMO.app_id, DEMO.encoding_aes_key)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    with running_server(tmp_path_factory.mktemp("hostile")) as (base, _env):
        parsed = urllib.parse.urlsplit(base)
        yield parsed.hostname or "127.0.0.1", parsed.port or 80


def post(server: tuple[str, int], query: str, body: bytes,
         headers: dict[str, str] | None = None) -> int:
    conn = http.client.HTTPConnection(*server, timeout=ANSWER_WITHIN_S)
    started = time.monotonic()
    try:
        conn.request("POST", "/wechat?" + query, body=body,
                     headers={"Content-Type": "text/xml", **(headers or {})})
        status = conn.getresponse().status
    finally:
        conn.close()
    assert time.monotonic() - started < ANSWER_WITHIN_S
    return status


def signed_query(xml: str, mode: str = "plain") -> tuple[str, bytes]:
    req = PEER.sign(xml, mode)  # type: ignore[arg-type]
    return urllib.parse.urlencode(req.params), req.body.encode()


def no_server_error(status: int) -> None:
    assert status < 500, status


@EXAMPLES
@given(body=st.binary(max_size=4096))
def test_random_bytes_with_a_valid_signature(server: tuple[str, int], body: bytes) -> None:
    query, _ = signed_query("<xml/>")
    no_server_error(post(server, query, body))


@EXAMPLES
@given(params=st.dictionaries(
    st.sampled_from(["signature", "timestamp", "nonce", "encrypt_type", "msg_signature",
                     "openid", "echostr", "x"]),
    st.text(max_size=80), max_size=6), body=st.text(max_size=500))
def test_random_query_strings(server: tuple[str, int], params: dict[str, str],
                              body: str) -> None:
    status = post(server, urllib.parse.urlencode(params), body.encode())
    assert status in (400, 403, 413), status  # nothing unsigned gets through


def _valid_text(content: str) -> str:
    return PEER.text("o-hostile", content)


@EXAMPLES
@given(content=st.text(max_size=300), data=st.data())
def test_mutated_signed_xml(server: tuple[str, int], content: str,
                            data: st.DataObject) -> None:
    xml = _valid_text("帮助")
    edits = data.draw(st.lists(st.tuples(st.integers(0, len(xml)), st.integers(0, 8),
                                         st.text(max_size=6)), max_size=4))
    for at, cut, insert in edits:
        xml = xml[:at] + insert + xml[at + cut:]
    xml = xml.replace("帮助", content, 1)
    query, body = signed_query(xml)
    no_server_error(post(server, query, body))


@EXAMPLES
@given(msg_type=st.sampled_from(["text", "event", "location", "image", "voice", "link",
                                 "video", "nonsense", ""]),
       fields=st.dictionaries(
           st.sampled_from(["Content", "Event", "EventKey", "Location_X", "Location_Y",
                            "Latitude", "Longitude", "Recognition", "MediaId", "PicUrl",
                            "Scale", "Label", "Ticket", "MsgId"]),
           st.one_of(st.text(max_size=120), st.integers(), st.floats(allow_nan=True),
                     st.sampled_from(["qrscene_st:HT01", "crs:", "grp:", "act:9" * 30,
                                      "st:" + "9" * 40, "CLICK", "subscribe", "SCAN",
                                      "location_select", "1e999", "-0", "NaN"])),
           max_size=6),
       mode=st.sampled_from(["plain", "compatible", "aes"]))
def test_well_formed_messages_with_odd_fields(server: tuple[str, int], msg_type: str,
                                              fields: dict[str, object], mode: str) -> None:
    xml = PEER.message("o-hostile-2", msg_type, **fields)
    query, body = signed_query(xml, mode)
    status = post(server, query, body)
    assert status in (200, 400), status


def test_an_oversized_body_is_refused_before_it_is_read(server: tuple[str, int]) -> None:
    """A Content-Length of 100 MB is answered at once, with no body sent at all."""
    query, _ = signed_query("<xml/>")
    with socket.create_connection(server, timeout=ANSWER_WITHIN_S) as sock:
        sock.sendall((f"POST /wechat?{query} HTTP/1.1\r\nHost: x\r\n"
                      "Content-Type: text/xml\r\nContent-Length: 100000000\r\n\r\n").encode())
        started = time.monotonic()
        head = sock.recv(200).decode("latin-1")
    assert head.startswith("HTTP/1.1 413"), head
    assert time.monotonic() - started < 2


def test_a_chunked_body_is_cut_off_at_the_limit(server: tuple[str, int]) -> None:
    """Without a Content-Length, the body is counted as it streams in: past 64 KiB the answer
    is 413 although the sender has not finished."""
    query, _ = signed_query("<xml/>")
    with socket.create_connection(server, timeout=ANSWER_WITHIN_S) as sock:
        sock.sendall((f"POST /wechat?{query} HTTP/1.1\r\nHost: x\r\n"
                      "Content-Type: text/xml\r\nTransfer-Encoding: chunked\r\n\r\n").encode())
        chunk = b"a" * 16384
        for _ in range(6):  # 96 KiB, then silence: the sender never ends the body
            sock.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
        head = sock.recv(200).decode("latin-1")
    assert head.startswith("HTTP/1.1 413"), head


def test_the_server_still_answers_afterwards(server: tuple[str, int], tmp_path: Path) -> None:
    query, body = signed_query(_valid_text("帮助"))
    assert post(server, query, body) == 200
