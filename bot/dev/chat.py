"""`python run.py chat --openid X`: talk to a running bot through the real signed callback.

Type words as a WeChat user would. Lines starting with ':' play the phone's other
gestures (location, QR scan, menu click, follow, photo, voice).
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from typing import Any

import aiohttp

from bot.dev.peer import Mode, WechatPeer
from bot.settings import Settings
from bot.wechat.message import parse

HELP = """直接输入文字即发送文字消息。其他操作：
  :loc 纬度,经度 [地点名]   发送位置        :scan 场景      扫描带参数二维码（已关注）
  :follow [场景]            关注（可带场景）  :unfollow       取消关注
  :click 按键               点击菜单        :image          发送图片
  :voice [文字]             发送语音（识别结果；不写则无识别结果）
  :help 本帮助              :quit 退出"""


class _Ticker:
    """WeChat tells events apart by sender and CreateTime (seconds): two gestures typed
    within one second must not look like one event sent twice."""

    def __init__(self) -> None:
        self.last = 0

    def __call__(self) -> int:
        self.last = max(int(time.time()), self.last + 1)
        return self.last


_tick = _Ticker()


def build(peer: WechatPeer, openid: str, line: str) -> str | None:
    """The callback body for one line the user typed; None when it is not a gesture."""
    if not line.startswith(":"):
        return peer.text(openid, line)
    cmd, _, rest = line[1:].partition(" ")
    rest = rest.strip()
    if cmd == "loc":
        where, _, label = rest.partition(" ")
        lat, lng = (float(x) for x in where.replace("，", ",").split(","))
        return peer.location(openid, lat, lng, label)
    if cmd == "scan":
        return peer.event(openid, "SCAN", rest, create_time=_tick())
    if cmd == "follow":
        return peer.event(openid, "subscribe", f"qrscene_{rest}" if rest else None,
                          create_time=_tick())
    if cmd == "unfollow":
        return peer.event(openid, "unsubscribe", create_time=_tick())
    if cmd == "click":
        return peer.event(openid, "CLICK", rest, create_time=_tick())
    if cmd == "image":
        return peer.image(openid)
    if cmd == "voice":  # `:voice` alone: a voice WeChat sent no Recognition for
        return peer.voice(openid, rest or None)
    return None


async def tell_sandbox(http: aiohttp.ClientSession, sandbox: str | None, body: str) -> None:
    """Play WeChat's part: it sees what the user did before it calls the bot."""
    if not sandbox:
        return
    msg = parse(body)
    if kind := msg.interaction:
        with contextlib.suppress(aiohttp.ClientError, TimeoutError):
            await http.post(f"{sandbox}/control/interaction",
                            json={"openid": msg.openid, "kind": kind})


async def show_pushes(http: aiohttp.ClientSession, sandbox: str, openid: str) -> None:
    """Print what the sandbox delivered to this user, as it arrives."""
    seen: int | None = None
    while True:
        try:
            async with http.get(f"{sandbox}/messages", params={"touser": openid}) as resp:
                delivered = await resp.json() if resp.status == 200 else []
        except (aiohttp.ClientError, TimeoutError, ValueError):
            delivered = []
        if seen is None:
            seen = len(delivered)  # only what arrives from now on
        for m in delivered[seen:]:
            print("\n" + describe_push(m), flush=True)
        seen = max(seen, len(delivered))
        await asyncio.sleep(1.0)


def describe_push(m: dict[str, Any]) -> str:
    if m.get("type") == "template":
        fields = "；".join(str(v.get("value")) for v in (m.get("data") or {}).values())
        return f"📨 模板消息（{m.get('template_id')}）：{fields}"
    content = m.get("content")
    if isinstance(content, dict):
        content = f"{content.get('title')} {content.get('url')}"
    return "📨 客服消息：" + str(content).replace("\n", "\n          ")


async def run_chat(settings: Settings, openid: str, url: str | None = None,
                   aes: bool = False) -> int:
    w = settings.wechat
    peer = WechatPeer(w.token, w.app_id, w.encoding_aes_key)
    # In dev mode the bot's own sandbox plays WeChat's API: show what it delivers.
    sandbox = settings.api_base_url if settings.is_dev and not url else None
    url = url or f"http://{settings.server.host}:{settings.server.port}/wechat"
    mode: Mode = "aes" if aes else "plain"
    interactive = sys.stdin.isatty()
    kind = "安全模式" if aes else "明文模式"
    print(f"已连接 {url}（{kind}），身份 {openid}。输入 :help 查看操作。")
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
        poller = asyncio.create_task(show_pushes(http, sandbox, openid)) if sandbox else None
        try:
            return await _chat_loop(http, peer, openid, url, mode, interactive, sandbox)
        finally:
            if poller:
                await asyncio.sleep(1.2 if not interactive else 0)  # pushes still on the way
                poller.cancel()


async def _chat_loop(http: aiohttp.ClientSession, peer: WechatPeer, openid: str, url: str,
                     mode: Mode, interactive: bool, sandbox: str | None) -> int:
    loop = asyncio.get_running_loop()
    while True:
        if interactive:
            print("我：", end="", flush=True)
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line:
            return 0
        line = line.strip()
        if not line:
            continue
        if line in (":quit", ":q"):
            return 0
        if line == ":help":
            print(HELP)
            continue
        try:
            body = build(peer, openid, line)
        except ValueError:
            body = None
        if body is None:
            print("没有这个操作。" + HELP)
            continue
        await tell_sandbox(http, sandbox, body)
        request = peer.sign(body, mode)
        try:
            async with http.post(url, params=request.params, data=body_bytes(request.body),
                                 headers={"Content-Type": "text/xml"}) as resp:
                text = await resp.text()
                status = resp.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            print(f"（连不上机器人：{exc or type(exc).__name__}。它在运行吗？先执行 make run）")
            continue
        if status != 200:
            print(f"（机器人拒绝了请求：HTTP {status} {text.strip()}）")
            continue
        reply = peer.read_reply(text, mode)
        if reply is None:
            print("（无回复）")
        else:
            content = reply.get("Content") or f"[{reply.get('MsgType')}]"
            print("小哥红驿：" + content.replace("\n", "\n          "))


def body_bytes(body: str) -> bytes:
    return body.encode("utf-8")
