"""The phone simulator (dev mode only): a chat page at /simulator/ that talks to /wechat
through the real signed callback protocol and shows what the sandbox pushes."""

from bot.dev.simulator.server import create_simulator, mount

__all__ = ["create_simulator", "mount"]
