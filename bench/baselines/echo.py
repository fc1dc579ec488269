"""Baseline 2: the minimal aiohttp + wechatpy echo bot. It checks the signature, decrypts
AES mode, parses the message, and echoes the text (or the message type) as a passive
reply, encrypted when the request was: what any WeChat bot must do, and nothing else.

    python bench/baselines/echo.py --port 8082
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from aiohttp import web
from wechatpy import create_reply, parse_message
from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidSignatureException
from wechatpy.utils import check_signature

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from bot.settings import load_settings

W = load_settings(Path(__file__).resolve().parents[2] / "config.yaml").wechat
CRYPTO = WeChatCrypto(W.token, W.encoding_aes_key, W.app_id)


async def callback(request: web.Request) -> web.Response:
    q = request.query
    try:
        check_signature(W.token, q["signature"], q["timestamp"], q["nonce"])
    except (KeyError, InvalidSignatureException):
        raise web.HTTPForbidden() from None
    xml = await request.text()
    aes = q.get("encrypt_type") == "aes"
    if aes:
        xml = CRYPTO.decrypt_message(xml, q["msg_signature"], q["timestamp"], q["nonce"])
    msg = parse_message(xml)
    reply = create_reply(getattr(msg, "content", None) or msg.type, msg).render()
    if aes:
        reply = CRYPTO.encrypt_message(reply, q["nonce"], q["timestamp"])
    return web.Response(text=reply, content_type="application/xml")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    app = web.Application()
    app.router.add_post("/wechat", callback)
    web.run_app(app, host="127.0.0.1", port=p.parse_args().port, access_log=None,
                print=None)


if __name__ == "__main__":
    main()
