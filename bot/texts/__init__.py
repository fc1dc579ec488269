"""Every sentence a WeChat user reads, in one place, so wording is reviewed together:
one package, one module per area, all read as `from bot import texts as T; T.NAME`.

Short lines for a phone screen; each reply says what to send next.
"""

from bot.texts.admin_tasks import *  # noqa: F403
from bot.texts.base import *  # noqa: F403
from bot.texts.console import *  # noqa: F403
from bot.texts.group_pages import *  # noqa: F403
from bot.texts.groups import *  # noqa: F403
from bot.texts.menus import *  # noqa: F403
from bot.texts.notices import *  # noqa: F403
from bot.texts.numbers import *  # noqa: F403
from bot.texts.order_pages import *  # noqa: F403
from bot.texts.orders import *  # noqa: F403
from bot.texts.people import *  # noqa: F403
from bot.texts.places import *  # noqa: F403
