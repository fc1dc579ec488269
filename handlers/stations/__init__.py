"""龙城红色驿站: check-in by scan or location, 附近, my check-ins; the stations' console."""

from __future__ import annotations

from bot.features import Features
from handlers.stations import chat, console


def setup(features: Features) -> None:
    features.chat(chat.router)
    features.pages.append(console.add_routes)
