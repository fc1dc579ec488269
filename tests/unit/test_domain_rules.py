"""Fast tests of the domain rules that need no database: check-in points and implausible
journeys, attendance windows, report tickets and lifecycle checks, notice validation and
the error convention, the WeChat location's datum, and how an arrival is worded."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import ClassVar

import pytest

from bot import texts as T
from models import geo
from models import notice as notices
from models import report as reports
from models.arrival import Arrival
from models.attendance import OPENS_BEFORE, AttendanceWindow
from models.checkin import MAX_PLAUSIBLE_KMH, journey_flag, points_for
from models.course import CourseError
from models.errors import DomainError
from models.report import Report, ReportError

NOW = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)  # 10:00 in Asia/Shanghai
CHANGZHOU = geo.Point(31.7806, 119.9462)


# --- check-ins ---------------------------------------------------------------------------


def test_only_the_first_check_in_of_the_day_earns_a_point() -> None:
    assert points_for(1) == 1
    assert points_for(2) == 0
    assert points_for(7) == 0


def test_a_journey_faster_than_the_limit_is_flagged() -> None:
    ten_km_north = geo.Point(CHANGZHOU.lat + 10 / 111.2, CHANGZHOU.lng)
    assert journey_flag("甲站", CHANGZHOU, ten_km_north, timedelta(minutes=30)) is None
    flag = journey_flag("甲站", CHANGZHOU, ten_km_north, timedelta(minutes=5))
    assert flag == "距上次签到（甲站）10.0公里，只隔5分钟"
    assert MAX_PLAUSIBLE_KMH < 10 / (5 / 60)


def test_no_time_at_all_between_two_places_counts_as_a_second() -> None:
    near = geo.Point(CHANGZHOU.lat + 0.01 / 111.2, CHANGZHOU.lng)  # 10 m
    assert journey_flag("甲站", CHANGZHOU, near, timedelta(0)) is None


# --- attendance windows --------------------------------------------------------------------


class _Meeting(AttendanceWindow):
    OPEN_STATUS: ClassVar[str] = "scheduled"

    def __init__(self, status: str = "scheduled", lat: float | None = CHANGZHOU.lat,
                 lng: float | None = CHANGZHOU.lng) -> None:
        self.start_at, self.end_at = NOW, NOW + timedelta(hours=2)
        self.status, self.lat, self.lng, self.radius_m = status, lat, lng, 200


def test_attendance_opens_half_an_hour_before_and_closes_at_the_end() -> None:
    m = _Meeting()
    assert m.window() == (NOW - OPENS_BEFORE, NOW + timedelta(hours=2))
    assert not m.is_open(NOW - OPENS_BEFORE - timedelta(seconds=1))
    assert m.not_yet(NOW - OPENS_BEFORE - timedelta(seconds=1))
    assert m.is_open(NOW - OPENS_BEFORE) and not m.not_yet(NOW - OPENS_BEFORE)
    assert m.is_open(NOW + timedelta(hours=2))
    assert not m.is_open(NOW + timedelta(hours=2, seconds=1))


def test_a_cancelled_meeting_is_never_open_nor_not_yet() -> None:
    m = _Meeting(status="cancelled")
    assert not m.is_open(NOW) and not m.not_yet(NOW - timedelta(days=1))


def test_a_place_holds_points_within_its_radius() -> None:
    m = _Meeting()
    assert m.holds(geo.Point(CHANGZHOU.lat + 150 / 111_200, CHANGZHOU.lng))
    assert not m.holds(geo.Point(CHANGZHOU.lat + 250 / 111_200, CHANGZHOU.lng))
    assert not _Meeting(lat=None, lng=None).holds(CHANGZHOU)


# --- report tickets and lifecycle ----------------------------------------------------------


def test_ticket_format() -> None:
    assert reports.format_ticket(date(2026, 12, 1), 7) == "R20261201-0007"
    assert reports.format_ticket(date(2027, 1, 31), 1234) == "R20270131-1234"


@pytest.mark.parametrize(("status", "to", "reason", "code"), [
    (reports.ACCEPTED, reports.DISPATCHED, None, None),
    (reports.IN_PROGRESS, reports.RESOLVED, None, None),
    (reports.ACCEPTED, reports.CLOSED, "重复", None),
    (reports.ACCEPTED, reports.CLOSED, "别的", "close_reason"),
    (reports.RESOLVED, reports.IN_PROGRESS, None, "not_allowed"),  # the reporter reopens
    (reports.CLOSED, reports.IN_PROGRESS, None, "not_allowed"),
    (reports.IN_PROGRESS, reports.ACCEPTED, None, "not_allowed"),
])
def test_report_moves(status: str, to: str, reason: str | None, code: str | None) -> None:
    if code is None:
        reports.check_move(status, to, reason)
        return
    with pytest.raises(ReportError) as err:
        reports.check_move(status, to, reason)
    assert err.value.code == code


def _resolved(**kw: object) -> Report:
    fields: dict[str, object] = dict(
        ticket="R20261201-0001", member_id=1, category="其他", description="路灯坏了",
        status=reports.RESOLVED, resolved_at=NOW, created_at=NOW, updated_at=NOW,
        due_at=NOW)
    return Report(**{**fields, **kw})


def test_rating_rules() -> None:
    reports.check_rating(_resolved(), 1, 5)
    for report, member, stars, code in [
        (_resolved(), 2, 5, "not_yours"), (_resolved(status=reports.IN_PROGRESS), 1, 5,
                                           "not_resolved"),
        (_resolved(rating=4), 1, 5, "rated"), (_resolved(), 1, 6, "stars"),
        (_resolved(), 1, 0, "stars")]:
        with pytest.raises(ReportError) as err:
            reports.check_rating(report, member, stars)
        assert err.value.code == code


def test_reopening_is_for_the_reporter_within_a_week() -> None:
    reports.check_reopen(_resolved(), 1, NOW + reports.REOPEN_WINDOW)
    with pytest.raises(ReportError) as err:
        reports.check_reopen(_resolved(), 1, NOW + reports.REOPEN_WINDOW + timedelta(seconds=1))
    assert err.value.code == "too_late"
    with pytest.raises(ReportError) as err:
        reports.check_reopen(_resolved(), 9, NOW)
    assert err.value.code == "not_yours"


# --- notices and the error convention -----------------------------------------------------


@pytest.mark.parametrize(("title", "body", "url", "code", "words"), [
    (" ", "正文", None, "title_empty", "标题不能为空"),
    ("题" * 41, "正文", None, "title_long", "标题最多40个字，现在41个字"),
    ("标题", "", None, "body_empty", "正文不能为空"),
    ("标题", "正文", "ftp://x", "url_scheme", "链接须以 http:// 或 https:// 开头"),
])
def test_notice_validation_gives_codes_and_words(title: str, body: str, url: str | None,
                                                  code: str, words: str) -> None:
    with pytest.raises(notices.NoticeError) as err:
        notices.validate(title, body, url)
    assert err.value.code == code
    assert T.notice_error(err.value.code, err.value.details) == words


def test_a_too_long_body_says_how_long() -> None:
    with pytest.raises(notices.NoticeError) as err:
        notices.validate("标题", "字" * 2000, None)
    assert err.value.code == "body_long"
    assert T.notice_error(err.value.code, err.value.details).startswith(
        "正文过长：微信客服消息最多约")


def test_the_api_time_is_iso_and_within_the_century() -> None:
    assert notices.parse_at(None) is None and notices.parse_at("") is None
    assert notices.parse_at("2026-12-01T09:00").utcoffset() == timedelta(hours=8)  # type: ignore[union-attr]
    for bad, code in [("tomorrow", "bad_time"), (20261201, "bad_time"),
                      ("1999-12-31T09:00", "at_range")]:
        with pytest.raises(notices.NoticeError) as err:
            notices.parse_at(bad)
        assert err.value.code == code


def test_every_domain_error_carries_a_code_and_details() -> None:
    err = CourseError("full_walk_in")
    assert isinstance(err, DomainError) and err.code == err.reason == "full_walk_in"
    detailed = ReportError("rated", rating=4)
    assert detailed.details == detailed.info == {"rating": 4}
    assert repr(detailed) == "ReportError('rated', rating=4)"
    assert notices.NoticeError("group_unknown", code="AB12").details == {"code": "AB12"}


# --- where a location is, and how an arrival is said ---------------------------------------


def test_a_location_without_coordinates_or_at_zero_is_refused() -> None:
    with pytest.raises(geo.BadPoint):
        geo.incoming(None, 119.9, "gcj02")
    with pytest.raises(geo.BadPoint):
        geo.incoming(0.0, 0.0, "gcj02")
    assert geo.incoming(31.78, 119.94, "gcj02") == geo.Point(31.78, 119.94)
    shifted = geo.incoming(31.78, 119.94, "wgs84")
    assert 200 < geo.distance_m(shifted, geo.Point(31.78, 119.94)) < 800


def test_arrivals_are_worded() -> None:
    opens = datetime(2026, 12, 1, 1, 30, tzinfo=UTC)
    act = Arrival("activity", "present", "12-01 10:00 党小组会「学习」", "学习", points=8)
    assert T.arrived(act) == T.ACTIVITY_PRESENT.format(what=act.what, points=8)
    early = Arrival("activity", "not_yet", "x", "学习", opens=opens)
    assert T.arrived(early) == "「学习」还没开始，12-01 09:30 起可以发送「到」签到。"
    crs = Arrival("course", "not_yet", "x", "党史", code="DX1", opens=opens)
    assert T.arrived(crs) == "「党史」还没到签到时间，12-01 09:30 起发送「签到 DX1」签到。"
    assert T.arrived(Arrival("course", "full_walk_in", "x", "党史")) == \
        T.COURSE_ERRORS["full_walk_in"]
    assert T.arrived(Arrival("course", "already", "x", "党史")) == T.COURSE_ALREADY_PRESENT
    assert T.arrived(Arrival("activity", "no_such_code", "x", "t")) == T.ERROR
