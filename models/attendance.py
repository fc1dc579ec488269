"""What a group activity and a course share: an attendance window (from 30 minutes before
the start to the end) and a place that a sent location falls inside or not."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import Enum
from typing import ClassVar

from models import geo

OPENS_BEFORE = timedelta(minutes=30)  # attendance opens this long before the start


class Attended(Enum):
    """What taking attendance came to: marked present now, or present already."""

    PRESENT = "present"
    ALREADY = "already"


class AttendanceWindow:
    """A mixin for tables with start_at, end_at, status, lat, lng and radius_m."""

    OPEN_STATUS: ClassVar[str]  # the status in which attendance can be taken
    start_at: datetime
    end_at: datetime
    status: str
    lat: float | None
    lng: float | None
    radius_m: int

    def window(self) -> tuple[datetime, datetime]:
        return self.start_at - OPENS_BEFORE, self.end_at

    def is_open(self, now: datetime) -> bool:
        opens, closes = self.window()
        return self.status == self.OPEN_STATUS and opens <= now <= closes

    def not_yet(self, now: datetime) -> bool:
        """Attendance will open later (it is not cancelled, and it is too early)."""
        return self.status == self.OPEN_STATUS and now < self.window()[0]

    def holds(self, p: geo.Point) -> bool:
        return self.lat is not None and self.lng is not None and geo.distance_m(
            p, geo.Point(self.lat, self.lng)) <= self.radius_m
