"""龙城红色驿站: check-in by scan or location, 附近, my check-ins; the stations' console."""

from __future__ import annotations

from pathlib import Path

from bot.features import Features, MenuEntry
from handlers.stations import chat, console, demo

TEMPLATES = Path(__file__).with_name("templates")


def setup(features: Features) -> None:
    features.chat(chat.router)
    features.console(console.add_routes, TEMPLATES,
                     MenuEntry("/console/stations", "驿站", frozenset({"admin"}), 60))
    features.seeds.append(demo.seed)
