"""Staff: 绑定 a console account to WeChat, the console's home page, the accounts list."""

from __future__ import annotations

from bot.features import Features
from handlers.staff import chat, console, dashboard


def setup(features: Features) -> None:
    features.chat(chat.router)
    features.pages.append(dashboard.add_routes)
    features.pages.append(console.add_routes)
