"""The /simulator/ sub-app: the page, and the JSON endpoints it calls.

The page never signs anything: it posts a gesture to ``/simulator/api/send``, which builds
the callback WeChat would send (bot.dev.peer.WechatPeer), signs it (and encrypts it in AES
mode) with the account's token and keys, and posts it over HTTP to this same server's
``/wechat`` — the real protocol, through the real gateway. Pushes come from the WeChat
API sandbox (``GET {api_base_url}/messages``), read through ``/simulator/api/pushes``.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import jinja2
from aiohttp import web
from sqlmodel.ext.asyncio.session import AsyncSession

from bot import texts as T
from bot.clock import Clock
from bot.dev.chat import tell_sandbox
from bot.dev.peer import Mode, WechatPeer
from bot.dev.simulator.protocol import BadGesture, Callback, build, mode_of, openid_of
from bot.settings import PRODUCTION_API, Settings

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
STATIC = HERE / "static"
SHANGHAI = ZoneInfo("Asia/Shanghai")
CALL_TIMEOUT = aiohttp.ClientTimeout(total=10)  # WeChat itself gives up after 5 s
Sessions = Callable[[], AsyncSession]

SIMULATOR: web.AppKey[Simulator] = web.AppKey("simulator")
_dumps = functools.partial(json.dumps, ensure_ascii=False)


# What the phone can scan: (stations, groups, courses) as lists of dicts, read by the
# function the app factory hands in (the platform names no feature).
Scannable = Callable[[Any, datetime], Awaitable[Any]]


class Simulator:
    def __init__(self, settings: Settings, clock: Clock, sessions: Sessions,
                 scannable: Scannable):
        w = settings.wechat
        self.settings, self.clock, self.sessions = settings, clock, sessions
        self.scannable = scannable
        self.peer = WechatPeer(w.token, w.app_id, w.encoding_aes_key)
        base = settings.api_base_url
        self.sandbox_url: str | None = None if base == PRODUCTION_API else base
        self.template_kinds = {m.id: kind for kind, m in w.templates.items()}
        # Each template's field → the value config maps to it (its label on the phone).
        self.template_values = {m.id: {r.field: r.value for r in m.rules if r.value}
                                for m in w.templates.values()}
        self.boot = secrets.token_hex(4)  # pushes are told apart per server run
        self.http: aiohttp.ClientSession | None = None
        self._last_time: dict[str, int] = {}
        self.env = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"),
                                      autoescape=True, trim_blocks=True, lstrip_blocks=True)
        self.asset_version = _version(STATIC)

    # --- time ------------------------------------------------------------------------------

    def now(self) -> int:
        return int(self.clock.now().timestamp())

    def tick(self, openid: str) -> int:
        """A CreateTime for the next callback from `openid`. The bot tells events apart by
        sender and CreateTime (whole seconds), so two gestures within one second would look
        like WeChat retrying one: each gets a later second than the last."""
        stamp = max(self.now(), self._last_time.get(openid, 0) + 1)
        self._last_time[openid] = stamp
        return stamp

    # --- the page --------------------------------------------------------------------------

    async def page(self, request: web.Request) -> web.Response:
        stations, groups, courses = await self._choices()
        html = self.env.get_template("index.html").render(
            menu=self.settings.menu.button,
            stations=stations,
            groups=groups,
            courses=courses,
            base=str(request.app.router["page"].url_for()),
            version=self.asset_version,
            config={"send": str(request.app.router["send"].url_for()),
                    "pushes": str(request.app.router["pushes"].url_for()),
                    "sandbox": bool(self.sandbox_url)},
        )
        return web.Response(text=html, content_type="text/html", charset="utf-8",
                            headers={"Cache-Control": "no-store"})

    async def _choices(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]],
                                      list[dict[str, Any]]]:
        async with self.sessions() as session:
            found = await self.scannable(session, self.clock.now())
        return found.stations, found.groups, found.courses

    # --- sending ---------------------------------------------------------------------------

    async def send(self, request: web.Request) -> web.Response:
        if request.content_type != "application/json":
            return _problem(415, "请以 JSON（Content-Type: application/json）发送")
        try:
            data = await request.json()
        except ValueError:
            return _problem(400, "请求体不是有效的 JSON")
        if not isinstance(data, dict):
            return _problem(400, "请求体须为 JSON 对象")
        try:
            openid, mode = openid_of(data), mode_of(data)
            callbacks = build(self.peer, openid, data, lambda: self.tick(openid))
        except BadGesture as exc:
            return _problem(400, str(exc))
        base = _loopback(request)
        steps: list[dict[str, Any]] = []
        for callback in callbacks:
            step = await self._deliver(base, openid, callback, mode)
            steps.append(step)
            if step.get("error"):
                return _json({"ok": False, "error": step["error"], "steps": steps},
                                         status=502)
        return _json({"ok": True, "openid": openid, "mode": mode, "steps": steps,
                                  "replies": [s["reply"] for s in steps if s["reply"]]})

    async def _deliver(self, base: str, openid: str, callback: Callback,
                       mode: Mode) -> dict[str, Any]:
        assert self.http is not None
        # WeChat notes what the user did (the 客服 window, the follow) before it calls us.
        await tell_sandbox(self.http, self.sandbox_url, callback.xml)
        signed = self.peer.sign(callback.xml, mode, timestamp=self.now())
        step: dict[str, Any] = {"label": callback.label, "request": callback.xml,
                                "query": signed.params, "body": signed.body, "reply": None}
        try:
            async with self.http.post(f"{base}/wechat", params=signed.params,
                                      data=signed.body.encode("utf-8"),
                                      headers={"Content-Type": "text/xml"}) as resp:
                text, status = await resp.text(), resp.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            step["error"] = f"连不上 {base}/wechat：{exc or type(exc).__name__}"
            return step
        step.update(status=status, response=text)
        if status != 200:
            step["error"] = f"机器人拒绝了请求：HTTP {status} {text.strip()}"
            return step
        try:
            fields = self.peer.read_reply(text, mode)
        except Exception as exc:  # a reply we cannot read is the finding, not a crash
            step["error"] = f"读不懂机器人的回复（{type(exc).__name__}）"
            return step
        if fields is not None:
            step["reply"] = fields.get("Content") or f"[{fields.get('MsgType')} 消息]"
            if mode != "plain":
                step["decrypted"] = True
        return step

    # --- pushes ----------------------------------------------------------------------------

    async def pushes(self, request: web.Request) -> web.Response:
        try:
            openid = openid_of(dict(request.query))
        except BadGesture as exc:
            return _problem(400, str(exc))
        if self.sandbox_url is None:
            return _problem(409, "没有沙箱：wechat.api_base_url 指向真实的微信接口")
        assert self.http is not None
        try:
            async with self.http.get(f"{self.sandbox_url}/messages",
                                     params={"touser": openid}) as resp:
                delivered = await resp.json() if resp.status == 200 else None
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            return _problem(502, f"连不上沙箱 {self.sandbox_url}：{type(exc).__name__}")
        if not isinstance(delivered, list):
            return _problem(502, f"沙箱 {self.sandbox_url}/messages 没有返回列表")
        items = [self.describe(m) for m in delivered if isinstance(m, dict)]
        return _json({"boot": self.boot, "pushes": items})

    def describe(self, m: dict[str, Any]) -> dict[str, Any]:
        """One delivered message, readable: a 客服 text or article, or a template's fields
        with the names a WeChat user would see."""
        channel = m.get("channel")
        out: dict[str, Any] = {
            "id": f"{self.boot}:{m.get('msgid')}",
            "time": _local_time(m.get("time")),
            "channel": channel,
            "channel_label": "模板消息" if channel == "template" else "客服消息",
            "type": m.get("type"),
        }
        content = m.get("content")
        if m.get("type") == "template":
            kind = self.template_kinds.get(str(m.get("template_id")), "")
            values = self.template_values.get(str(m.get("template_id")), {})
            rows = []
            for key, value in (m.get("data") or {}).items():
                text = value.get("value") if isinstance(value, dict) else value
                label = T.PUSH_VALUE_LABELS.get(values.get(key) or "")
                rows.append([label or _prefix_label(key), str(text)])
            out.update(title=T.PUSH_KIND_NAMES.get(kind, "模板消息"), rows=rows,
                       template_id=m.get("template_id"), url=m.get("url"))
        elif isinstance(content, dict):  # a news article
            out.update(title=content.get("title"), text=content.get("description") or "",
                       url=content.get("url"))
        else:
            out["text"] = str(content or "")
        return out


def _prefix_label(key: str) -> str:
    stem = key.rstrip("0123456789")
    return T.TEMPLATE_PREFIX_LABELS.get(stem, key)


def _local_time(value: Any) -> str:
    try:
        return datetime.fromisoformat(str(value)).astimezone(SHANGHAI).strftime("%H:%M:%S")
    except ValueError:
        return ""


def _json(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=_dumps)


def _problem(status: int, reason: str) -> web.Response:
    return _json({"ok": False, "error": reason}, status=status)


def _loopback(request: web.Request) -> str:
    """This server, as the request reached it: the socket's own address and port."""
    sock = request.transport.get_extra_info("sockname") if request.transport else None
    if isinstance(sock, tuple) and len(sock) >= 2:
        host, port = str(sock[0]), int(sock[1])
        if host in ("0.0.0.0", "::", ""):
            host = "127.0.0.1"
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
    return str(request.url.origin())


def _version(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(folder.iterdir()):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:10]


def create_simulator(settings: Settings, clock: Clock, sessions: Sessions,
                     scannable: Scannable) -> web.Application:
    """The simulator as a sub-app, mounted at /simulator in dev mode only."""
    sim = Simulator(settings, clock, sessions, scannable)
    app = web.Application()
    app[SIMULATOR] = sim
    app.router.add_get("/", sim.page, name="page")
    app.router.add_post("/api/send", sim.send, name="send")
    app.router.add_get("/api/pushes", sim.pushes, name="pushes")
    app.router.add_static("/static", STATIC, name="static")

    async def http(_: web.Application) -> AsyncIterator[None]:
        sim.http = aiohttp.ClientSession(timeout=CALL_TIMEOUT)
        yield
        await sim.http.close()

    app.cleanup_ctx.append(http)
    return app


async def _to_page(request: web.Request) -> web.Response:
    raise web.HTTPFound("/simulator/")


def mount(app: web.Application, settings: Settings, clock: Clock, sessions: Sessions,
          scannable: Scannable) -> None:
    """Serve the simulator at /simulator/ (and send /simulator there)."""
    app.router.add_get("/simulator", _to_page)
    app.add_subapp("/simulator", create_simulator(settings, clock, sessions, scannable))
