"""Tables and the domain rules over them: plain async functions that take a session.

Nothing here knows aiohttp or WeChat's wire format.
"""

from models.activity import Activity, Attendance
from models.checkin import Checkin
from models.claim import InboundClaim
from models.course import Course, Enrolment
from models.dialog_store import DialogRow
from models.due import DuePush
from models.grid import Grid
from models.group import GroupMembership, PartyGroup
from models.login_throttle import LoginFailure
from models.member import Member
from models.notice import Notice
from models.outbox import Push
from models.push_rate import PushRate
from models.qr import QrCode
from models.replay import SeenCallback
from models.report import Report, ReportBacker, ReportEvent, TicketCounter
from models.staff import BindCode, ConsoleUser
from models.staff_tags import StaffTag, WechatTag
from models.station import Station
from models.subscribe import SubscribeGrant
from models.text import guard
from models.token import AccessToken

guard()  # no over-long text reaches either database (models/text.py)

__all__ = [
    "AccessToken",
    "Activity",
    "Attendance",
    "BindCode",
    "Checkin",
    "ConsoleUser",
    "Course",
    "DialogRow",
    "DuePush",
    "Enrolment",
    "Grid",
    "GroupMembership",
    "InboundClaim",
    "LoginFailure",
    "Member",
    "Notice",
    "PartyGroup",
    "Push",
    "PushRate",
    "QrCode",
    "Report",
    "ReportBacker",
    "ReportEvent",
    "SeenCallback",
    "StaffTag",
    "Station",
    "SubscribeGrant",
    "TicketCounter",
    "WechatTag",
]
