"""Staff: 绑定 a console account to WeChat, the console's home page, the accounts list."""

from __future__ import annotations

from pathlib import Path

from bot.features import Features, MenuEntry
from handlers.staff import chat, console, dashboard
from models.staff import ROLES

TEMPLATES = Path(__file__).with_name("templates")


def setup(features: Features) -> None:
    features.chat(chat.router)
    features.console(dashboard.add_routes, TEMPLATES,
                     MenuEntry("/console/", "总览", frozenset(ROLES), 0))
    features.console(console.add_routes, TEMPLATES)
