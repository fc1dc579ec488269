"""三会一课 in the console: schedule a group's activity, see one with its roll (present,
on leave with the reason, absent) and its leave requests, move it, cancel it with a reason.

The rules and the word to the members are models/activity.py's, as the API's
(handlers/groups/api.py): schedule, move and cancel tell the members through the outbox
and plan (or withdraw) the reminders and the roll in the same transaction."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from aiohttp import web

from bot import texts as T
from bot.web.pages import now, parse_local, render, sessions, text_errors
from handlers.groups.access import (
    activity_of,
    form_of,
    group_of,
    local_input,
    reminder_offsets,
    wake_worker,
)
from models import activity as activities
from models import geo
from models.activity import Activity, ActivityError, Venue
from models.views import groups as views

log = logging.getLogger(__name__)

WHERE = ("place", "lat", "lng", "radius_m", "online_url")
NEW_FIELDS = ("kind", "topic", "start", "end", *WHERE)
MOVE_FIELDS = ("start", "end", *WHERE)
REASON_MIN, REASON_MAX = 2, 100
URL_MAX = 512
DONE = {"scheduled": T.ACTIVITY_SCHEDULED, "moved": T.ACTIVITY_MOVED_OK,
        "cancelled": T.ACTIVITY_CANCELLED_OK}


# --- reading the forms ------------------------------------------------------------------------


def _times(form: dict[str, str], errors: dict[str, str]
           ) -> tuple[datetime | None, datetime | None]:
    start, end = parse_local(form["start"]), parse_local(form["end"])
    if start is None:
        errors["start"] = T.ACTIVITY_TIME_BAD
    if end is None:
        errors["end"] = T.ACTIVITY_TIME_BAD
    return start, end


def _venue(form: dict[str, str], errors: dict[str, str]) -> Venue:
    """Where, as the API reads it: a place, an optional point (both lat and lng), a radius
    of 10 to 5000 m, an optional http(s) link."""
    point = None
    if form["lat"] or form["lng"]:
        try:
            point = geo.check(float(form["lat"]), float(form["lng"]))
        except (OverflowError, ValueError):
            errors["lat"] = T.ACTIVITY_LATLNG_BAD
    url = form["online_url"] or None
    if url is not None and not (len(url) <= URL_MAX and url.startswith(("https://", "http://"))):
        errors["online_url"] = T.ACTIVITY_URL_BAD
    radius = 200
    try:
        radius = int(form["radius_m"] or "200")
        if not 10 <= radius <= 5000:
            raise ValueError
    except ValueError:
        errors["radius_m"] = T.ACTIVITY_RADIUS_BAD
    if len(form["place"]) > activities.PLACE_MAX:
        errors["place"] = T.ACTIVITY_PLACE_LONG.format(n=activities.PLACE_MAX)
    return Venue(form["place"], point, radius, url)


def _error(err: ActivityError, errors: dict[str, str]) -> None:
    field, message = T.ACTIVITY_FORM_ERRORS.get(err.reason, ("form", str(err.reason)))
    errors[field] = message


def _values(a: Activity) -> dict[str, str]:
    """The move form as the activity stands."""
    return {"start": local_input(a.start_at), "end": local_input(a.end_at), "place": a.place,
            "lat": "" if a.lat is None else f"{a.lat:.6f}".rstrip("0").rstrip("."),
            "lng": "" if a.lng is None else f"{a.lng:.6f}".rstrip("0").rstrip("."),
            "radius_m": str(a.radius_m), "online_url": a.online_url or ""}


def _state(a: Activity, at: datetime) -> str:
    if a.status != "scheduled":
        return a.status
    if a.end_at <= at:
        return "ended"
    return "running" if a.start_at <= at else "scheduled"


# --- scheduling -------------------------------------------------------------------------------


async def _new_page(request: web.Request, form: dict[str, str], errors: dict[str, str],
                    status: int = 200) -> web.Response:
    async with sessions(request)() as db:
        _, group = await group_of(request, db)
    return await render(request, "activities_form.html", {
        "group": group, "form": form, "errors": errors, "kinds": activities.KINDS,
        "fix": T.GROUP_FORM_FIX, "min_at": local_input(now(request))}, status)


async def new_form(request: web.Request) -> web.Response:
    form = dict.fromkeys(NEW_FIELDS, "")
    form.update(kind=activities.KINDS[2], radius_m="200")
    return await _new_page(request, form, {})


async def schedule(request: web.Request) -> web.Response:
    async with sessions(request)() as db:
        user, group = await group_of(request, db)
    posted = await request.post()
    form = form_of(posted, NEW_FIELDS)
    errors = text_errors(posted, lines=NEW_FIELDS)
    start, end = _times(form, errors)
    venue = _venue(form, errors)
    activity_id = None
    if not errors and start is not None and end is not None:
        try:
            async with sessions(request)() as db, db.begin():
                _, group = await group_of(request, db)
                a = await activities.schedule(
                    db, group, form["kind"], form["topic"], start, end, now(request),
                    place=venue.place, point=venue.point, radius_m=venue.radius_m,
                    online_url=venue.online_url, by=f"console:{user.username}",
                    text=T.ACTIVITY_NEW, offsets=reminder_offsets(request))
                activity_id = a.id
        except ActivityError as err:
            _error(err, errors)
    if errors or activity_id is None:
        return await _new_page(request, form, errors, 400)
    wake_worker(request)
    log.info("console: activity %s scheduled by user %s", activity_id, user.id)
    raise web.HTTPSeeOther(f"/console/groups/{group.id}/activities/{activity_id}?done=scheduled")


# --- one activity: the roll, leave requests, move and cancel ----------------------------------


async def _page(request: web.Request, move: dict[str, str] | None = None,
                reason: str = "", errors: dict[str, str] | None = None,
                status: int = 200) -> web.Response:
    async with sessions(request)() as db:
        _, group, a = await activity_of(request, db)
        roll = await activities.roll(db, a)
        leaves = await views.leave_requests(db, a)
    at = now(request)
    state = _state(a, at)
    return await render(request, "activities_detail.html", {
        "group": group, "a": a, "roll": roll, "leaves": leaves, "state": state,
        "state_name": T.ACTIVITY_STATUS.get(state, state), "move": move or _values(a),
        "reason": reason, "errors": errors or {}, "fix": T.GROUP_FORM_FIX,
        "done": DONE.get(request.query.get("done", ""), ""), "min_at": local_input(at),
        "open": state in ("scheduled", "running")}, status)


async def detail(request: web.Request) -> web.Response:
    return await _page(request)


async def move(request: web.Request) -> web.Response:
    async with sessions(request)() as db:
        user, group, a = await activity_of(request, db)
    posted = await request.post()
    form = form_of(posted, MOVE_FIELDS)
    errors = text_errors(posted, lines=MOVE_FIELDS)
    start, end = _times(form, errors)
    venue = _venue(form, errors)
    if not errors and start is not None and end is not None:
        try:
            async with sessions(request)() as db, db.begin():
                _, _, a = await activity_of(request, db)
                await activities.move(db, a, start, end, now(request), T.ACTIVITY_MOVED,
                                      reminder_offsets(request), venue)
        except ActivityError as err:
            _error(err, errors)
    if errors:
        return await _page(request, move=form, errors=errors, status=400)
    wake_worker(request)
    log.info("console: activity %s moved by user %s", a.id, user.id)
    raise web.HTTPSeeOther(f"/console/groups/{group.id}/activities/{a.id}?done=moved")


def _cancel_text(reason: str) -> str:
    """The cancellation's words with the reason in them (the domain fills in {what})."""
    kept = reason.replace("{", "{{").replace("}", "}}")
    return T.ACTIVITY_CANCELLED_WHY.replace("{reason}", kept)


async def cancel(request: web.Request) -> web.Response:
    async with sessions(request)() as db:
        user, group, a = await activity_of(request, db)
    posted: Any = await request.post()
    reason = str(posted.get("reason", "")).strip()[:600]
    errors = text_errors(posted, lines=("reason",))
    if not errors and not REASON_MIN <= len(reason) <= REASON_MAX:
        errors["reason"] = T.ACTIVITY_REASON_BAD
    if not errors:
        try:
            async with sessions(request)() as db, db.begin():
                _, _, a = await activity_of(request, db)
                await activities.cancel(db, a, now(request), _cancel_text(reason))
        except ActivityError as err:
            _error(err, errors)
    if errors:
        return await _page(request, reason=reason, errors=errors, status=400)
    wake_worker(request)
    log.info("console: activity %s cancelled by user %s", a.id, user.id)
    raise web.HTTPSeeOther(f"/console/groups/{group.id}/activities/{a.id}?done=cancelled")


def add_routes(r: web.UrlDispatcher) -> None:
    base = "/groups/{id:\\d{1,9}}/activities"
    r.add_get(f"{base}/new", new_form)
    r.add_post(f"{base}/new", schedule)
    r.add_get(base + "/{aid:\\d{1,9}}", detail)
    r.add_post(base + "/{aid:\\d{1,9}}/move", move)
    r.add_post(base + "/{aid:\\d{1,9}}/cancel", cancel)
