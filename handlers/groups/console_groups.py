"""小组 forms in the console: create a group (admin), edit its name and industry (admin, or
the group's leader), choose or replace its leader (admin), and regenerate its invite code.

The rules are models/group.py's, as the API's (handlers/groups/api.py): this module only
reads the form, calls the domain and puts its reason codes beside the fields."""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web
from sqlalchemy.exc import IntegrityError
from sqlmodel.ext.asyncio.session import AsyncSession

from bot import texts as T
from bot.web.pages import now, render, sessions, text_errors
from handlers.groups.access import admin_only, form_of, group_of, keep_own_session, refused
from models import group as groups
from models import names
from models.group import GroupError, PartyGroup
from models.staff import ConsoleUser
from models.views import groups as views

log = logging.getLogger(__name__)

FIELDS = ("name", "industry", "leader", "description")
LIMITS = {"name": 100, "industry": 40, "leader": 80, "description": 2000}


def _posted(data: Any) -> dict[str, str]:
    form = form_of(data, FIELDS, limit=2000)
    return {k: v[:LIMITS[k]] for k, v in form.items()}


async def leader_choices(db: AsyncSession) -> list[tuple[str, str]]:
    """(login, what the form shows) of every leader account: its display name (the login
    only for an account without one, as everywhere in the console)."""
    accounts = await views.leader_accounts(db)
    shown = await names.staff_names(db, [u.username for u in accounts])
    return [(u.username, shown.get(u.username, u.username)) for u in accounts]


async def _show(request: web.Request, db: AsyncSession, user: ConsoleUser,
                group: PartyGroup | None, form: dict[str, str], errors: dict[str, str],
                status: int = 200) -> web.Response:
    return await render(request, "groups_form.html", {
        "group": group, "form": form, "errors": errors, "industries": groups.COMMITTEES,
        "leaders": await leader_choices(db) if user.role == "admin" else [],
        "fix": T.GROUP_FORM_FIX, "no_leader": T.GROUP_FORM_NO_LEADER,
        "keep_no_leader": T.GROUP_FORM_KEEP_NO_LEADER}, status)


def _error(err: GroupError, errors: dict[str, str]) -> None:
    field, message = T.GROUP_FORM_ERRORS.get(err.reason, ("form", str(err.reason)))
    errors[field] = message


async def new_form(request: web.Request) -> web.Response:
    user = admin_only(request)
    async with sessions(request)() as db:
        return await _show(request, db, user, None, dict.fromkeys(FIELDS, ""), {})


async def create(request: web.Request) -> web.Response:
    user = admin_only(request)
    posted = await request.post()
    form = _posted(posted)
    errors = text_errors(posted, lines=("name", "industry", "leader"), bodies=("description",))
    group_id = None
    if not errors:
        try:
            async with sessions(request)() as db, db.begin():
                group = await groups.create(db, form["name"], form["industry"], now(request),
                                            form["leader"] or None, form["description"])
                group_id = group.id
        except GroupError as err:
            _error(err, errors)
        except IntegrityError:  # the same name created at the same moment
            errors["name"] = T.GROUP_FORM_ERRORS["name_taken"][1]
    if errors or group_id is None:
        async with sessions(request)() as db:
            return await _show(request, db, user, None, form, errors, 400)
    log.info("console: group %s created by user %s", group_id, user.id)
    raise web.HTTPSeeOther(f"/console/groups/{group_id}?done=created")


async def edit_form(request: web.Request) -> web.Response:
    async with sessions(request)() as db:
        user, group = await group_of(request, db)
        leader = await groups.leader_of(db, group)
        form = {"name": group.name, "industry": group.industry,
                "leader": leader.username if leader else "", "description": group.description}
        return await _show(request, db, user, group, form, {})


async def edit(request: web.Request) -> web.Response:
    posted = await request.post()
    form = _posted(posted)
    errors = text_errors(posted, lines=("name", "industry", "leader"), bodies=("description",))
    async with sessions(request)() as db:
        user, group = await group_of(request, db)
    if user.role != "admin" and "leader" in posted:
        raise refused()  # only an admin chooses a group's leader
    if not errors:
        fields = {"name": form["name"], "industry": form["industry"],
                  "description": form["description"]}
        if user.role == "admin" and form["leader"]:
            fields["leader"] = form["leader"]
        try:
            async with sessions(request)() as db, db.begin():
                _, group = await group_of(request, db)
                await groups.edit(db, group, **fields)
        except GroupError as err:
            _error(err, errors)
        except IntegrityError:
            errors["name"] = T.GROUP_FORM_ERRORS["name_taken"][1]
    if errors:
        async with sessions(request)() as db:
            _, group = await group_of(request, db)
            return await _show(request, db, user, group, form, errors, 400)
    log.info("console: group %s edited by user %s", group.id, user.id)
    raise web.HTTPSeeOther(f"/console/groups/{group.id}?done=saved")


async def invite(request: web.Request) -> web.Response:
    async with sessions(request)() as db:
        _, group = await group_of(request, db)
    done = T.GROUP_RECODED.format(code=group.code) if request.query.get("done") == "recoded" \
        else ""
    return await render(request, "groups_invite.html", {"group": group, "done": done})


async def regenerate(request: web.Request) -> web.Response:
    async with sessions(request)() as db, db.begin():
        user, group = await group_of(request, db)
        await groups.regenerate_code(db, group)
        await keep_own_session(request, db, user)
        group_id = group.id
    log.info("console: group %s invite code regenerated by user %s", group_id, user.id)
    raise web.HTTPSeeOther(f"/console/groups/{group_id}/invite?done=recoded")


def add_routes(r: web.UrlDispatcher) -> None:
    r.add_get("/groups/new", new_form)
    r.add_post("/groups/new", create)
    r.add_get("/groups/{id:\\d{1,9}}/edit", edit_form)
    r.add_post("/groups/{id:\\d{1,9}}/edit", edit)
    r.add_get("/groups/{id:\\d{1,9}}/invite", invite)
    r.add_post("/groups/{id:\\d{1,9}}/invite", regenerate)
