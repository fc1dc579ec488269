"""What WeChat sent, as one plain value: parsed with wechatpy, free of its types.

Handlers see an `Inbound`; nothing past this module looks at XML.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from typing import Any
from xml.parsers.expat import ExpatError

from wechatpy import parse_message
from wechatpy.messages import UnknownMessage

from bot.language.normalise import basic
from models.text import OPENID, strip_invisible

# 订阅通知: the member's answers to a popup, to their settings, and send receipts; each
# carries a list of templates under this element.
SUBSCRIBE_EVENTS = {
    "subscribe_msg_popup_event": "SubscribeMsgPopupEvent",
    "subscribe_msg_change_event": "SubscribeMsgChangeEvent",
    "subscribe_msg_sent_event": "SubscribeMsgSentEvent",
}
MESSAGE_TYPES = {"text", "image", "voice", "video", "shortvideo", "location", "link"}
EVENT_TYPES = {
    "subscribe",
    "subscribe_scan",
    "unsubscribe",
    "scan",
    "location",
    "click",
    "view",
    "scancode_push",
    "scancode_waitmsg",
    "location_select",
    "pic_sysphoto",
    "pic_photo_or_album",
    "pic_weixin",
    "templatesendjobfinish",
    "masssendjobfinish",
    *SUBSCRIBE_EVENTS,
}


class MalformedMessage(ValueError):
    """The body is not a WeChat message we can read (answered 400)."""


@dataclass(frozen=True, slots=True)
class Inbound:
    openid: str
    account: str
    create_time: int
    msg_type: str  # one of MESSAGE_TYPES, "event", or "unknown"
    event: str | None = None  # lower-case event name for msg_type "event"
    msg_id: int | None = None
    content: str | None = None  # text content, or a voice's recognised words (see `unheard`)
    key: str | None = None  # click/view key, scanned text, QR scene (qrscene_ stripped)
    lat: float | None = None
    lng: float | None = None
    label: str | None = None
    media_id: str | None = None
    pic_url: str | None = None
    url: str | None = None
    title: str | None = None
    extra: dict[str, str] = field(default_factory=dict)
    # The templates of a subscribe_msg_* event, one dict each (TemplateId,
    # SubscribeStatusString, MsgID, ErrorCode, ErrorStatus…, as WeChat names them).
    items: tuple[dict[str, str], ...] = ()

    @property
    def is_event(self) -> bool:
        return self.msg_type == "event"

    @property
    def is_known(self) -> bool:
        if self.is_event:
            return self.event in EVENT_TYPES
        return self.msg_type in MESSAGE_TYPES

    @property
    def text(self) -> str:
        """What the user said, normalised: a text message, a voice's recognition,
        or a menu click key (a click does what its word does)."""
        if self.msg_type in ("text", "voice"):
            return normalize(self.content or "")
        if self.event == "click":
            return normalize(self.key or "")
        return ""

    @property
    def unheard(self) -> bool:
        """A voice message without words: WeChat's Recognition is absent, empty or only
        white space and punctuation (it is being withdrawn: never count on it)."""
        return self.msg_type == "voice" and not self.text

    @property
    def is_input(self) -> bool:
        """Something the user said or chose (a message, or a menu click), not a bare event."""
        return not self.is_event or bool(self.text)

    @property
    def scene(self) -> str | None:
        """The QR scene of a SCAN or scan-to-follow event."""
        return self.key if self.event in ("scan", "subscribe_scan") and self.key else None

    @property
    def dedup_key(self) -> str:
        """Same for WeChat's retries of one message, different for distinct messages."""
        if self.msg_id:
            # Scoped to the sender: the lock that orders retries is per user, and a key
            # clash with another user's message must never hand over their reply.
            raw = f"m:{self.openid}:{self.msg_id}"
        else:
            raw = f"e:{self.openid}:{self.create_time}:{self.event}:{self.key or ''}"
        return hashlib.sha256(raw.encode()).hexdigest()[:40]

    @property
    def opens_service_window(self) -> bool:
        """A message the user wrote (not an event) opens WeChat's 48 h 客服 window."""
        return not self.is_event and self.is_known

    @property
    def opens_event_allowance(self) -> bool:
        """A menu click, a scan or a follow: WeChat allows 3 客服 messages within a minute."""
        return self.event in {"click", "scan", "subscribe", "subscribe_scan", "scancode_push",
                              "scancode_waitmsg"}

    @property
    def interaction(self) -> str | None:
        """What WeChat itself notes about the user from this callback (see bot/dev/sandbox.py)."""
        if self.opens_service_window:
            return "message"
        if self.event in ("subscribe", "subscribe_scan", "unsubscribe"):
            return "unsubscribe" if self.event == "unsubscribe" else "subscribe"
        return "event" if self.opens_event_allowance else None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Inbound:
        return cls(**{**data, "items": tuple(data.get("items") or ())})


def normalize(text: str) -> str:
    """Full-width to half-width, surrounding spaces and a leading '/' dropped,
    runs of white space folded to one space: bot/language/normalise.py, the one place
    (the intent matcher reads its fuller `canonical` form)."""
    return basic(text)


def _float(value: Any) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        raise MalformedMessage("bad coordinate") from None


def parse(xml: str) -> Inbound:
    """Parse a decrypted callback body. Raises MalformedMessage."""
    try:
        msg = parse_message(xml)
    except (ExpatError, KeyError, TypeError, AttributeError, ValueError) as exc:
        raise MalformedMessage(type(exc).__name__) from None
    if msg is None:
        raise MalformedMessage("empty")
    data: dict[str, Any] = getattr(msg, "_data", None) or {}
    if not isinstance(data, dict):
        raise MalformedMessage("not a message")
    openid, account = data.get("FromUserName"), data.get("ToUserName")
    if not isinstance(openid, str) or not openid or not isinstance(account, str):
        raise MalformedMessage("missing FromUserName/ToUserName")
    if not OPENID.fullmatch(openid):  # an identifier: refused, never cut (models/text.py)
        raise MalformedMessage("FromUserName is not an openid")
    try:
        create_time = int(data.get("CreateTime") or 0)
        msg_id = int(data["MsgId"]) if data.get("MsgId") else None
    except (TypeError, ValueError):
        raise MalformedMessage("bad CreateTime/MsgId") from None
    msg_type = str(data.get("MsgType", "")).lower()
    base: dict[str, Any] = {
        "openid": openid,
        "account": account,
        "create_time": create_time,
        "msg_id": msg_id,
    }
    if isinstance(msg, UnknownMessage) and msg_type != "event":
        return Inbound(msg_type="unknown", extra={"MsgType": msg_type}, **base)
    if msg_type == "event":
        return _event(data, base)
    return _message(msg_type, data, base)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _said(value: Any) -> str | None:
    """A rider's free text (Content, Recognition, Label, EventKey, ScanResult) without the
    control and invisible characters a keyboard or a paste may add (models/text.py). A
    rider is never refused for them: the message is answered as if they were not there."""
    return strip_invisible(value) if isinstance(value, str) else None


def _recognised(value: Any) -> str | None:
    """A voice message's Recognition, when it holds words: absent, empty, or nothing but
    white space and punctuation ("。") is None, and the message is `unheard`."""
    said = _said(value)
    return said if said and any(ch.isalnum() for ch in said) else None


def _message(msg_type: str, data: dict[str, Any], base: dict[str, Any]) -> Inbound:
    if msg_type == "text":
        return Inbound(msg_type="text", content=_said(data.get("Content")) or "", **base)
    if msg_type == "voice":
        return Inbound(
            msg_type="voice",
            content=_recognised(data.get("Recognition")),
            media_id=_text(data.get("MediaId")),
            extra={"Format": _text(data.get("Format")) or ""},
            **base,
        )
    if msg_type == "location":
        return Inbound(
            msg_type="location",
            lat=_float(data.get("Location_X")),
            lng=_float(data.get("Location_Y")),
            label=_said(data.get("Label")),
            extra={"Scale": _text(data.get("Scale")) or ""},
            **base,
        )
    if msg_type == "link":
        return Inbound(
            msg_type="link",
            url=_text(data.get("Url")),
            title=_text(data.get("Title")),
            **base,
        )
    # image, video, shortvideo
    return Inbound(
        msg_type=msg_type,
        media_id=_text(data.get("MediaId")),
        pic_url=_text(data.get("PicUrl")),
        extra={"ThumbMediaId": _text(data.get("ThumbMediaId")) or ""},
        **base,
    )


def _listed(data: dict[str, Any], element: str) -> tuple[dict[str, str], ...]:
    """The <List> entries under `element` (one entry or several), as plain strings."""
    box = data.get(element)
    entries = box.get("List") if isinstance(box, dict) else None
    if isinstance(entries, dict):
        entries = [entries]
    if not isinstance(entries, list):
        return ()
    return tuple({k: str(v).strip() for k, v in e.items() if isinstance(v, (str, int))}
                 for e in entries if isinstance(e, dict))


def _event(data: dict[str, Any], base: dict[str, Any]) -> Inbound:
    event = str(data.get("Event") or "").lower()
    if event == "templatesendjobfinish":
        # The receipt's msgid is its key: two receipts in one second are two events.
        msgid = _text(data.get("MsgID")) or ""
        return Inbound(msg_type="event", event=event, key=f"msgid:{msgid}",
                       extra={"MsgID": msgid, "Status": _text(data.get("Status")) or ""},
                       **base)
    if event in SUBSCRIBE_EVENTS:
        items = _listed(data, SUBSCRIBE_EVENTS[event])
        digest = hashlib.sha256(repr(items).encode()).hexdigest()[:16]
        return Inbound(msg_type="event", event=event, key=f"list:{digest}", items=items,
                       **base)
    key = _said(data.get("EventKey"))
    lat = lng = None
    label = None
    if event == "subscribe_scan" or (event == "subscribe" and key and key.startswith("qrscene_")):
        event, key = "subscribe_scan", (key or "").removeprefix("qrscene_")
    elif event == "subscribe":
        key = None
    elif event == "location":
        lat, lng = _float(data.get("Latitude")), _float(data.get("Longitude"))
    elif event in ("scancode_push", "scancode_waitmsg"):
        info = data.get("ScanCodeInfo") or {}
        scanned = _said(info.get("ScanResult")) if isinstance(info, dict) else None
        return Inbound(
            msg_type="event",
            event=event,
            content=scanned,
            key=key,
            extra={"ScanType": _text(info.get("ScanType")) or ""} if isinstance(info, dict)
            else {},
            **base,
        )
    elif event == "location_select":
        info = data.get("SendLocationInfo") or {}
        if isinstance(info, dict):
            lat, lng = _float(info.get("Location_X")), _float(info.get("Location_Y"))
            label = _said(info.get("Label"))
    return Inbound(msg_type="event", event=event, key=key, lat=lat, lng=lng, label=label, **base)
