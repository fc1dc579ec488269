"""Red stations: check in by QR scene or by location, find the nearest, see my check-ins."""

from __future__ import annotations

from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from bot import texts as T
from bot.clock import SHANGHAI
from bot.dialogs import DialogContext, State, StatesGroup
from bot.router import Router, event, join, message, words
from bot.settings import Settings
from bot.wechat.message import Inbound
from models import arrival, geo
from models import checkin as checkins
from models import station as stations
from models.member import Member
from models.station import Nearby, Station
from models.views import stations as station_views

router = Router("stations", help=[T.HELP_CHECKIN, T.HELP_NEARBY, T.HELP_MY_CHECKINS])


class NearbySearch(StatesGroup):
    # Both give way: a word or a click after 附近 does what it always does.
    awaiting_location = State(T.NEARBY_ASK, soft=True, wants_text=False)
    listing = State(T.NEARBY_MORE, soft=True)


def _services(station: Station) -> str:
    return "、".join(station.services) or T.NO_SERVICES


def _open_now(station: Station, local_now: datetime) -> str:
    return T.OPEN_NOW if station.is_open(local_now) else T.CLOSED_NOW


def incoming_point(msg: Inbound, settings: Settings) -> geo.Point:
    """The sent location in GCJ-02 (WeChat's picker gives GCJ-02 unless configured else)."""
    return geo.incoming(msg.lat, msg.lng, settings.wechat.location_datum)


def _checked_in(station: Station, result: checkins.CheckinResult, now: datetime) -> str:
    local_now = now.astimezone(SHANGHAI)
    if not result.created:
        return T.CHECKIN_AGAIN.format(time=result.at.astimezone(SHANGHAI).strftime("%H:%M"),
                                      name=station.name, month=result.month_count,
                                      points=result.points)
    return T.CHECKIN_DONE.format(name=station.name, kind=station.kind,
                                 open_now=_open_now(station, local_now),
                                 today=station.today(local_now), services=_services(station),
                                 month=result.month_count, points=result.points)


async def _check_in(session: AsyncSession, member: Member, station: Station, now: datetime,
                    method: str) -> str:
    if not station.active:
        return T.STATION_INACTIVE.format(name=station.name)
    result = await checkins.check_in(session, member, station, now, method)
    return _checked_in(station, result, now)


async def _nearest_far(session: AsyncSession, point: geo.Point) -> str:
    """How far the nearest station is, for a rider beyond 5 km of every one."""
    found = await station_views.nearest_active(session, point)
    if found is None:
        return ""
    station, distance = found
    return T.NEAREST_FAR.format(name=station.name, distance=geo.format_distance(distance))


def _nearby_lines(found: list[Nearby], start: int, local_now: datetime) -> list[str]:
    return [T.NEARBY_LINE.format(i=start + i, name=n.station.name,
                                 distance=geo.format_distance(n.distance_m),
                                 open_now=_open_now(n.station, local_now),
                                 services=_services(n.station))
            for i, n in enumerate(found, 1)]


async def _nearby_page(session: AsyncSession, dialog: DialogContext, point: geo.Point,
                       page: int, now: datetime, header: str | None = T.NEARBY_HEADER) -> str:
    found, more = await stations.nearest_page(session, point, page)
    if not found:
        dialog.finish()
        if page == 0:
            return T.NONE_NEARBY.format(nearest=await _nearest_far(session, point))
        return T.NEARBY_END
    if more:
        dialog.start(NearbySearch.listing, lat=point.lat, lng=point.lng, page=page)
    else:
        dialog.finish()
    lines = _nearby_lines(found, page * stations.NEARBY_PAGE, now.astimezone(SHANGHAI))
    return join(header, *lines, T.NEARBY_MORE if more else T.NEARBY_END if page else None)


# --- check-in by QR ------------------------------------------------------------------------


@router.scene("st:", needs_profile=True)
async def checkin_by_scene(scene_arg: str, member: Member, session: AsyncSession,
                           now: datetime) -> str:
    station = await stations.by_code(session, scene_arg)
    if station is None:
        return T.STATION_UNKNOWN.format(code=scene_arg[:32])
    return await _check_in(session, member, station, now, "qr")


# --- check-in by location ------------------------------------------------------------------


@router.on(message("location"), needs_profile=True)
async def checkin_by_location(msg: Inbound, member: Member, session: AsyncSession,
                              now: datetime, settings: Settings, dialog: DialogContext) -> str:
    try:
        point = incoming_point(msg, settings)
    except geo.BadPoint:
        return T.BAD_LOCATION
    here = await arrival.at_location(session, member, point, now)
    attended = join(*(T.arrived(a) for a in here.attended)) or None
    if here.station is not None:
        checked = (T.STATION_INACTIVE.format(name=here.station.name) if here.checkin is None
                   else _checked_in(here.station, here.checkin, now))
        return join(attended, checked)
    if attended is not None:
        return attended
    found = await stations.around(session, point, stations.NEARBY_RADIUS_M, limit=1)
    if not found:
        return T.OUTSIDE_NONE.format(nearest=await _nearest_far(session, point))
    nearest = found[0]
    intro = T.OUTSIDE_ALL.format(name=nearest.station.name,
                                 distance=geo.format_distance(nearest.distance_m))
    return await _nearby_page(session, dialog, point, 0, now, header=intro)


# --- nearby --------------------------------------------------------------------------------


@router.words("附近", "附近驿站", "找驿站")
async def nearby_ask(dialog: DialogContext) -> str:
    dialog.start(NearbySearch.awaiting_location)
    return T.NEARBY_ASK


@router.on(event("location_select"))
async def location_picker(msg: Inbound, dialog: DialogContext) -> None:
    """The menu's location buttons: WeChat sends this event, then the location itself as a
    message. 附近驿站 makes that message a search; 位置签到 leaves it a check-in."""
    if msg.key == "附近驿站":
        dialog.start(NearbySearch.awaiting_location)
    return None


@router.state(NearbySearch.awaiting_location, message("location"))
async def nearby_list(msg: Inbound, dialog: DialogContext, session: AsyncSession,
                      settings: Settings, now: datetime) -> str:
    try:
        point = incoming_point(msg, settings)
    except geo.BadPoint:
        return join(T.BAD_LOCATION, T.NEARBY_ASK)
    return await _nearby_page(session, dialog, point, 0, now)


@router.state(NearbySearch.listing, words("更多", "下一页"))
async def nearby_more(dialog: DialogContext, session: AsyncSession, now: datetime) -> str:
    point = geo.Point(dialog.data["lat"], dialog.data["lng"])
    return await _nearby_page(session, dialog, point, dialog.data["page"] + 1, now, header=None)


# --- words ---------------------------------------------------------------------------------


@router.words("更多", "下一页")
async def nothing_more() -> str:
    return T.NOTHING_MORE


@router.words("签到", "打卡")
async def how_to_check_in() -> str:
    return T.CHECKIN_HOW


@router.words("我的签到", "签到记录", needs_profile=True)
async def my_checkins(member: Member, session: AsyncSession, now: datetime) -> str:
    assert member.id is not None
    rows = await checkins.recent(session, member.id)
    if not rows:
        return T.MY_CHECKINS_NONE
    month = await checkins.month_count(session, member.id, now)
    lines = [T.MY_CHECKINS_LINE.format(when=c.at.astimezone(SHANGHAI).strftime("%m-%d %H:%M"),
                                       name=s.name) for c, s in rows]
    return join(T.MY_CHECKINS_HEADER.format(month=month, points=member.points), *lines)
