"""Baseline 3: a WeRoBot echo bot, served by gunicorn with 2 sync workers — what a Python
developer would otherwise pick. Same token, AES key and app id as the bot.

    gunicorn -w 2 -b 127.0.0.1:8083 --chdir bench/baselines werobot_echo:application
"""

from __future__ import annotations

from pathlib import Path

import bottle
import werobot
import yaml

_W = yaml.safe_load((Path(__file__).resolve().parents[2] / "config.yaml").read_text(
    encoding="utf-8"))["wechat"]



class Robot(werobot.WeRoBot):
    """A reply is encrypted when its request was: WeRoBot itself encrypts every reply of a
    worker once any request was AES (the bench sends half the callbacks in each mode)."""

    def get_encrypted_reply(self, message):
        reply = self.get_reply(message)
        if not reply:
            return ""
        if bottle.request.query.get("encrypt_type") == "aes":
            return self.crypto.encrypt_message(reply)
        return reply.render()


robot = Robot(token=_W["token"], encoding_aes_key=_W["encoding_aes_key"], app_id=_W["app_id"])


@robot.handler
def echo(message):
    return getattr(message, "content", None) or message.type


robot.config["SESSION_STORAGE"] = False
application = robot.wsgi
