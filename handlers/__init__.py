"""One router per feature: words and events in, a domain call, a reply out."""

from __future__ import annotations

from bot.router import Router
from handlers import (
    common,
    follow,
    groups,
    profile,
    registration,
    reports,
    school,
    staff,
    stations,
)
from handlers.registration import require_profile


def build_router() -> Router:
    """The root router. Order matters only among handlers that could match the same input:
    feature routers first, the catch-alls of `common` last."""
    root = Router("root")
    root.include(
        registration.router,
        profile.router,
        stations.router,
        reports.router,
        reports.officers,
        groups.router,
        groups.leaders,
        school.router,
        school.instructors,
        staff.router,
        follow.router,
        common.router,
    )
    return root


__all__ = ["build_router", "require_profile"]
