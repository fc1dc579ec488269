"""Every way into a feature, one package per feature. Each package has a `setup(features)`
that registers its chat routers, API routes, console pages and jobs with the platform."""

from __future__ import annotations

from pathlib import Path

from bot.features import Features
from bot.router import Router
from handlers import (
    common,
    groups,
    notices,
    registration,
    reports,
    school,
    staff,
    stations,
)
from handlers.registration.chat import require_profile

# Order matters only among chat handlers that could match the same input.
FEATURES = (registration, stations, reports, groups, school, notices, staff, common)


def install() -> Features:
    """Every feature, registered."""
    features = Features()
    for feature in FEATURES:
        feature.setup(features)
        # What riders type for its words, beside it (bot/language/intents.py).
        if (intents := Path(feature.__file__ or "").with_name("intents.yaml")).is_file():
            features.intent_file(intents)
    return features


def build_router() -> Router:
    """The root router (tests build apps around it)."""
    return install().root_router()


__all__ = ["FEATURES", "build_router", "install", "require_profile"]
