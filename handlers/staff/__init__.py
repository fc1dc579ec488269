"""Staff: 绑定 a console account to WeChat, the console's home page, the accounts list, and
the job that keeps their WeChat accounts' role tags (the staff menus) in step."""

from __future__ import annotations

from pathlib import Path

from bot.features import Features, MenuEntry, PeriodicJob
from handlers.staff import accounts, chat, console, dashboard, jobs, tools
from models.staff import ROLES

TEMPLATES = Path(__file__).with_name("templates")


def setup(features: Features) -> None:
    features.chat(chat.router)
    features.console(dashboard.add_routes, TEMPLATES,
                     MenuEntry("/console/", "总览", frozenset(ROLES), 0))
    features.console(console.add_routes, TEMPLATES)
    features.console(accounts.add_routes, TEMPLATES)
    features.console(tools.add_routes, TEMPLATES,
                     MenuEntry("/console/admin", "管理", frozenset({"admin"}), 90))
    features.jobs.append(PeriodicJob(jobs.TAGS_JOB, jobs.apply_tag_changes,
                                     every_s=jobs.TAGS_EVERY_S))
