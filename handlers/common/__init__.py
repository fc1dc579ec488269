"""帮助, 取消, and the answer to what nothing else understood."""

from __future__ import annotations

from bot.features import Features
from handlers.common import chat, smalltalk, understand


def setup(features: Features) -> None:
    features.chat(smalltalk.router)  # after every feature's words, before the fallbacks
    features.chat_fallback(chat.router, understand.router)
