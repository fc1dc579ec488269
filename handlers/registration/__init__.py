"""注册 and the profile: registration, 我的 and its edits, 注销, following the account."""

from __future__ import annotations

from pathlib import Path

from bot.features import Features, MenuEntry
from handlers.registration import chat, console, follow, import_console, profile

TEMPLATES = Path(__file__).with_name("templates")


def setup(features: Features) -> None:
    features.chat(chat.router, profile.router)
    features.chat_fallback(follow.router)  # scenes no feature claimed
    features.profile_gate = chat.require_profile
    features.console(console.add_routes, TEMPLATES,
                     MenuEntry("/console/members", "成员",
                               frozenset({"admin", "instructor", "leader"}), 40))
    features.console(import_console.add_routes, TEMPLATES)  # 导入成员 (admin)
