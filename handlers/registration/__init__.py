"""注册 and the profile: registration, 我的 and its edits, 注销, following the account."""

from __future__ import annotations

from bot.features import Features
from handlers.registration import chat, console, follow, profile


def setup(features: Features) -> None:
    features.chat(chat.router, profile.router)
    features.chat_fallback(follow.router)  # scenes no feature claimed
    features.profile_gate = chat.require_profile
    features.pages.append(console.add_routes)
