"""What the simulator's page asks for, turned into the callbacks WeChat would send.

One gesture on the phone can be more than one callback: a menu's location button sends a
``location_select`` event and then the location itself as a message, as WeChat does.
"""

from __future__ import annotations

import math
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot.dev.peer import Mode, WechatPeer

MODES: tuple[Mode, ...] = ("plain", "compat", "aes")
OPENID = re.compile(r"[A-Za-z0-9_-]{1,64}")
SCENE = re.compile(r"\S{1,64}")
TEXT_MAX = 2000
PIC_EVENTS = ("pic_sysphoto", "pic_photo_or_album", "pic_weixin")

# kind: what the page calls the gesture (shown in the chat log)
KINDS = {
    "text": "文字",
    "voice": "语音",
    "image": "图片",
    "location": "位置",
    "scan": "扫码（已关注）",
    "subscribe": "关注",
    "unsubscribe": "取消关注",
    "click": "菜单点击",
    "view": "菜单网页",
    "location_select": "菜单发送位置",
    "scancode_waitmsg": "菜单扫码",
    "scancode_push": "菜单扫码（推送）",
    "pic": "菜单发图",
}


class BadGesture(ValueError):
    """The page asked for something that is not a callback WeChat would send (answered 400)."""


@dataclass(frozen=True)
class Callback:
    label: str  # what this callback is, for the log: "CLICK 事件", "位置消息"…
    xml: str


def _str(data: dict[str, Any], key: str, what: str, *, required: bool = True,
         limit: int = 128) -> str:
    value = data.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise BadGesture(f"缺少 {key}（{what}）")
        return ""
    if not isinstance(value, str):
        raise BadGesture(f"{key}（{what}）须为字符串")
    if len(value) > limit:
        raise BadGesture(f"{key}（{what}）最长 {limit} 个字符")
    return value.strip()


def _coordinate(data: dict[str, Any], key: str, bound: float) -> float:
    value = data.get(key)
    if isinstance(value, str):
        value = value.strip().replace("，", ",")
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise BadGesture(f"{key} 须为数字（纬度 lat、经度 lng）") from None
    if not math.isfinite(number) or abs(number) > bound:
        raise BadGesture(f"{key} 超出范围（±{bound:g}）")
    return number


def openid_of(data: dict[str, Any]) -> str:
    openid = data.get("openid")
    if not isinstance(openid, str) or not openid.strip():
        raise BadGesture("缺少 openid（模拟的微信用户身份）")
    openid = openid.strip()
    if not OPENID.fullmatch(openid):
        raise BadGesture("openid 只能由字母、数字、下划线和短横线组成，最长 64 个字符")
    return openid


def mode_of(data: dict[str, Any]) -> Mode:
    mode = data.get("mode") or "plain"
    if mode not in MODES:
        raise BadGesture(f"mode 须为 {' / '.join(MODES)}")
    return mode


def _scene(data: dict[str, Any], *, required: bool = True) -> str:
    scene = _str(data, "scene", "二维码场景，如 st:HT01", required=required, limit=64)
    if scene and not SCENE.fullmatch(scene):
        raise BadGesture("scene 不能含空白，最长 64 个字符")
    return scene


def build(peer: WechatPeer, openid: str, data: dict[str, Any],
          tick: Callable[[], int]) -> list[Callback]:
    """The callbacks for one gesture. `tick` gives each one its CreateTime."""
    kind = data.get("kind")
    if not isinstance(kind, str) or kind not in KINDS:
        raise BadGesture(f"未知的 kind：{kind!r}；可用：{'、'.join(KINDS)}")
    made = _message(peer, openid, kind, data, tick)
    return made if made is not None else _menu_event(peer, openid, kind, data, tick)


def _message(peer: WechatPeer, openid: str, kind: str, data: dict[str, Any],
             tick: Callable[[], int]) -> list[Callback] | None:
    """A message or a follow/scan event; None for the menu's events."""
    if kind == "text":
        content = _str(data, "content", "文字内容", limit=TEXT_MAX)
        return [Callback("文字消息", peer.text(openid, content, create_time=tick()))]
    if kind == "voice":  # without content: a voice WeChat sent no Recognition for
        content = _str(data, "content", "语音识别结果", required=False, limit=TEXT_MAX)
        label = "语音消息" if content else "语音消息（无识别结果）"
        return [Callback(label, peer.voice(openid, content or None, create_time=tick()))]
    if kind == "image":
        return [Callback("图片消息", peer.image(openid, _media(), create_time=tick()))]
    if kind == "location":
        return [_location(peer, openid, data, tick)]
    if kind == "scan":
        scene = _scene(data)
        return [Callback("SCAN 事件", peer.event(openid, "SCAN", scene, create_time=tick(),
                                                 Ticket=f"sim-{scene}"))]
    if kind == "subscribe":
        scene = _scene(data, required=False)
        if scene:
            return [Callback("subscribe 事件（扫码关注）",
                             peer.event(openid, "subscribe", f"qrscene_{scene}",
                                        create_time=tick(), Ticket=f"sim-{scene}"))]
        return [Callback("subscribe 事件", peer.event(openid, "subscribe", create_time=tick()))]
    if kind == "unsubscribe":
        return [Callback("unsubscribe 事件", peer.event(openid, "unsubscribe",
                                                        create_time=tick()))]
    return None


def _menu_event(peer: WechatPeer, openid: str, kind: str, data: dict[str, Any],
                tick: Callable[[], int]) -> list[Callback]:
    """A menu button's event (with the message a location or photo button sends after)."""
    key = _str(data, "key", "菜单按钮的 key", limit=128)
    if kind == "click":
        return [Callback("CLICK 事件", peer.event(openid, "CLICK", key, create_time=tick()))]
    if kind == "view":
        return [Callback("VIEW 事件", peer.event(openid, "VIEW", key, create_time=tick()))]
    if kind == "location_select":
        lat, lng = _coordinate(data, "lat", 90), _coordinate(data, "lng", 180)
        label = _str(data, "label", "地点名称", required=False)
        info = {"Location_X": lat, "Location_Y": lng, "Scale": 15, "Label": label,
                "Poiname": label}
        event = peer.event(openid, "location_select", key, create_time=tick(),
                           SendLocationInfo=info)
        return [Callback("location_select 事件", event), _location(peer, openid, data, tick)]
    if kind in ("scancode_waitmsg", "scancode_push"):
        scene = _scene(data)
        info = {"ScanType": "qrcode", "ScanResult": scene}
        return [Callback(f"{kind} 事件", peer.event(openid, kind, key, create_time=tick(),
                                                    ScanCodeInfo=info))]
    # pic: a menu photo button sends its event, then the photo as an image message
    event_name = data.get("event") or "pic_photo_or_album"
    if event_name not in PIC_EVENTS:
        raise BadGesture(f"event 须为 {' / '.join(PIC_EVENTS)}")
    info = {"Count": 1, "PicList": {"item": {"PicMd5Sum": secrets.token_hex(16)}}}
    return [Callback(f"{event_name} 事件", peer.event(openid, event_name, key,
                                                     create_time=tick(), SendPicsInfo=info)),
            Callback("图片消息", peer.image(openid, _media(), create_time=tick()))]


def _media() -> str:
    return f"sim-media-{secrets.token_hex(6)}"


def _location(peer: WechatPeer, openid: str, data: dict[str, Any],
              tick: Callable[[], int]) -> Callback:
    lat, lng = _coordinate(data, "lat", 90), _coordinate(data, "lng", 180)
    label = _str(data, "label", "地点名称", required=False)
    return Callback("位置消息", peer.location(openid, lat, lng, label, create_time=tick()))
