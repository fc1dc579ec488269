"""The stand-in for WeChat's API (see app.py); `python -m bot.dev.sandbox` runs it alone."""

from bot.dev.sandbox.app import create_sandbox
from bot.dev.sandbox.core import (
    EVENT_MESSAGES,
    STATE,
    TOKEN_TTL_S,
    WINDOW_MESSAGES,
    Faults,
    SandboxState,
    SandboxUser,
)

__all__ = ["EVENT_MESSAGES", "STATE", "TOKEN_TTL_S", "WINDOW_MESSAGES", "Faults", "SandboxState",
           "SandboxUser", "create_sandbox"]
