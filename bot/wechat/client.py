"""The async WeChat API client, on one aiohttp session.

wechatpy's client is synchronous, so this speaks the few calls the product uses
directly, with WeChat's JSON shapes. Every failure becomes a `WechatError` carrying
errcode/errmsg; `transient` says whether trying again later may help. The access
token comes from a `TokenSource` shared by all processes (bot/wechat/token.py), fetched
from /cgi-bin/stable_token or /cgi-bin/token (`wechat.token_endpoint`); on
40001/40014/42001 the call refreshes it once and tries once more.
"""

from __future__ import annotations

import json
import logging
from typing import Any, Protocol

import aiohttp

from bot.settings import PRODUCTION_API

log = logging.getLogger(__name__)

TOKEN_ERRORS = {40001, 40014, 42001}
QUOTA_ERRORS = {45009, 45011}
# A send to this recipient will not work however often it is tried.
PERMANENT_RECIPIENT_ERRORS = {
    43004: "用户未关注",
    40003: "openid无效",
    45015: "超出48小时客服窗口",
    45047: "客服消息条数已用完",
    43101: "用户未订阅该通知",
}
DEFAULT_TIMEOUT = aiohttp.ClientTimeout(total=10, connect=3)


class WechatError(Exception):
    def __init__(self, errcode: int, errmsg: str):
        super().__init__(f"{errcode} {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg

    @property
    def transient(self) -> bool:
        """Worth another try later: network trouble or a 5xx (-2), WeChat busy (-1), a quota."""
        return self.errcode in QUOTA_ERRORS or self.errcode in (-1, -2)

    @property
    def is_quota(self) -> bool:
        return self.errcode in QUOTA_ERRORS


class WechatNetworkError(WechatError):
    """No answer, a dropped connection, or an HTTP error status (errcode -2)."""

    def __init__(self, what: str):
        super().__init__(-2, what)


class TokenSource(Protocol):
    async def get(self) -> str: ...

    async def invalidate(self, bad_token: str) -> str: ...


class WechatApi:
    def __init__(self, base_url: str, http: aiohttp.ClientSession, tokens: TokenSource):
        self.base_url = base_url.rstrip("/")
        self._http = http
        self.tokens = tokens
        # WeChat serves QR images from another host; the sandbox serves them itself.
        self.qrcode_base_url = (
            "https://mp.weixin.qq.com" if self.base_url == PRODUCTION_API else self.base_url
        )

    # --- plumbing --------------------------------------------------------------------------

    async def _raw(self, method: str, path: str, params: dict[str, str],
                   payload: dict[str, Any] | None, base: str | None = None
                   ) -> tuple[bytes, str]:
        url = f"{base or self.base_url}{path}"
        body = json.dumps(payload, ensure_ascii=False).encode() if payload is not None else None
        headers = {"Content-Type": "application/json"} if body is not None else None
        try:
            async with self._http.request(method, url, params=params, data=body,
                                          headers=headers, timeout=DEFAULT_TIMEOUT) as resp:
                data = await resp.read()
                if resp.status >= 500 or resp.status == 429:
                    raise WechatNetworkError(f"HTTP {resp.status} from {path}")
                if resp.status >= 400:  # asking again will not help
                    raise WechatError(-3, f"HTTP {resp.status} from {path}")
                return data, resp.content_type
        except (TimeoutError, aiohttp.ClientError) as exc:
            # The URL may carry the access token or the secret: name only the path.
            raise WechatNetworkError(f"{type(exc).__name__} calling {path}") from None

    @staticmethod
    def _decode(data: bytes, path: str) -> dict[str, Any]:
        try:
            result = json.loads(data)
        except ValueError:
            raise WechatNetworkError(f"non-JSON answer from {path}") from None
        if not isinstance(result, dict):
            raise WechatNetworkError(f"unexpected answer from {path}")
        code = result.get("errcode", 0)
        if code:
            raise WechatError(int(code), str(result.get("errmsg", "")))
        return result

    async def call(self, method: str, path: str, payload: dict[str, Any] | None = None,
                   params: dict[str, str] | None = None, binary: bool = False) -> Any:
        """An authenticated call; refreshes the shared token once if WeChat says it is bad."""
        token = await self.tokens.get()
        for attempt in (1, 2):
            query = {**(params or {}), "access_token": token}
            data, content_type = await self._raw(method, path, query, payload)
            if binary and not content_type.endswith("json"):
                return data
            try:
                return self._decode(data, path)
            except WechatError as err:
                if err.errcode in TOKEN_ERRORS and attempt == 1:
                    log.info("access token refused (%s); refreshing once", err.errcode)
                    token = await self.tokens.invalidate(token)
                    continue
                raise
        raise AssertionError("unreachable")

    # --- the calls the product uses --------------------------------------------------------

    async def fetch_token(self, app_id: str, app_secret: str) -> tuple[str, int]:
        """The classic endpoint: every call issues a new token (the old one lives 5 minutes)."""
        data, _ = await self._raw("GET", "/cgi-bin/token", {
            "grant_type": "client_credential", "appid": app_id, "secret": app_secret}, None)
        return self._token_answer(data, "/cgi-bin/token")

    async def fetch_stable_token(self, app_id: str, app_secret: str, force_refresh: bool = False
                                 ) -> tuple[str, int]:
        """The stable endpoint: normal mode answers the token in force (a new one only in its
        last 5 minutes); `force_refresh` issues a new one at once (20 a day, 30 s apart)."""
        data, _ = await self._raw("POST", "/cgi-bin/stable_token", {}, {
            "grant_type": "client_credential", "appid": app_id, "secret": app_secret,
            "force_refresh": force_refresh})
        return self._token_answer(data, "/cgi-bin/stable_token")

    def _token_answer(self, data: bytes, path: str) -> tuple[str, int]:
        result = self._decode(data, path)
        token, expires_in = result.get("access_token"), result.get("expires_in", 7200)
        if not isinstance(token, str) or not token or len(token) > 512:
            raise WechatNetworkError("no usable access_token in the answer")
        try:
            return token, int(expires_in)
        except (TypeError, ValueError):
            raise WechatNetworkError("no usable expires_in in the answer") from None

    async def send_text(self, openid: str, content: str) -> None:
        await self.call("POST", "/cgi-bin/message/custom/send", {
            "touser": openid, "msgtype": "text", "text": {"content": content}})

    async def send_news(self, openid: str, title: str, description: str, url: str,
                        picurl: str = "") -> None:
        article = {"title": title, "description": description, "url": url, "picurl": picurl}
        await self.call("POST", "/cgi-bin/message/custom/send", {
            "touser": openid, "msgtype": "news", "news": {"articles": [article]}})

    async def send_template(self, openid: str, template_id: str, data: dict[str, str],
                            url: str | None = None) -> int | None:
        payload: dict[str, Any] = {
            "touser": openid,
            "template_id": template_id,
            "data": {k: {"value": v} for k, v in data.items()},
        }
        if url:
            payload["url"] = url
        result = await self.call("POST", "/cgi-bin/message/template/send", payload)
        return result.get("msgid")

    async def send_subscribe(self, openid: str, template_id: str, data: dict[str, Any],
                             page: str | None = None) -> None:
        """A 订阅通知 (bizsend). It returns no msgid: the receipt names the template."""
        payload: dict[str, Any] = {"touser": openid, "template_id": template_id, "data": data}
        if page:
            payload["page"] = page
        await self.call("POST", "/cgi-bin/message/subscribe/bizsend", payload)

    async def create_menu(self, menu: dict[str, Any]) -> None:
        await self.call("POST", "/cgi-bin/menu/create", menu)

    async def get_menu(self) -> dict[str, Any]:
        return await self.call("GET", "/cgi-bin/menu/get")

    async def delete_menu(self) -> None:
        await self.call("GET", "/cgi-bin/menu/delete")

    async def add_conditional_menu(self, menu: dict[str, Any], tag_id: int) -> str:
        """A personalised menu for the users carrying this tag: its menuid."""
        result = await self.call("POST", "/cgi-bin/menu/addconditional",
                                 {**menu, "matchrule": {"tag_id": str(tag_id)}})
        return str(result.get("menuid", ""))

    async def delete_conditional_menu(self, menuid: str) -> None:
        await self.call("POST", "/cgi-bin/menu/delconditional", {"menuid": menuid})

    async def try_match_menu(self, user_id: str) -> dict[str, Any]:
        """The menu this user sees (the conditional one their tags select, else the default)."""
        return await self.call("POST", "/cgi-bin/menu/trymatch", {"user_id": user_id})

    async def get_tags(self) -> dict[str, int]:
        """The account's user tags: {name: id}."""
        result = await self.call("GET", "/cgi-bin/tags/get")
        return {str(t["name"]): int(t["id"]) for t in result.get("tags", [])}

    async def create_tag(self, name: str) -> int:
        result = await self.call("POST", "/cgi-bin/tags/create", {"tag": {"name": name}})
        return int(result["tag"]["id"])

    async def tag_users(self, tag_id: int, openids: list[str]) -> None:
        """Put a tag on up to 50 users (tagging one already tagged is fine)."""
        await self.call("POST", "/cgi-bin/tags/members/batchtagging",
                        {"openid_list": openids, "tagid": tag_id})

    async def untag_users(self, tag_id: int, openids: list[str]) -> None:
        await self.call("POST", "/cgi-bin/tags/members/batchuntagging",
                        {"openid_list": openids, "tagid": tag_id})

    async def user_tags(self, openid: str) -> list[int]:
        result = await self.call("POST", "/cgi-bin/tags/getidlist", {"openid": openid})
        return [int(t) for t in result.get("tagid_list", [])]

    async def create_qrcode(self, scene: str) -> dict[str, Any]:
        """A permanent string-scene code: {"ticket", "url"}."""
        return await self.call("POST", "/cgi-bin/qrcode/create", {
            "action_name": "QR_LIMIT_STR_SCENE",
            "action_info": {"scene": {"scene_str": scene}},
        })

    async def qrcode_image(self, ticket: str) -> bytes:
        """The PNG of a code."""
        data, content_type = await self._raw("GET", "/cgi-bin/showqrcode", {"ticket": ticket},
                                             None, base=self.qrcode_base_url)
        if content_type.endswith("json"):
            self._decode(data, "/cgi-bin/showqrcode")
        return data

    async def download_media(self, media_id: str) -> bytes:
        return await self.call("GET", "/cgi-bin/media/get", params={"media_id": media_id},
                               binary=True)

    async def user_info(self, openid: str) -> dict[str, Any]:
        return await self.call("GET", "/cgi-bin/user/info",
                               params={"openid": openid, "lang": "zh_CN"})

