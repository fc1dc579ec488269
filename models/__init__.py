"""Tables and the domain rules over them: plain async functions that take a session.

Nothing here knows aiohttp or WeChat's wire format.
"""

from models.dialog import DialogRow
from models.inbound import InboundClaim
from models.member import Member
from models.staff import BindCode, ConsoleUser

__all__ = ["BindCode", "ConsoleUser", "DialogRow", "InboundClaim", "Member"]
