"""帮助, 取消, and the answer to what nothing else understood."""

from __future__ import annotations

from bot.features import Features
from handlers.common import chat


def setup(features: Features) -> None:
    features.chat_fallback(chat.router)
