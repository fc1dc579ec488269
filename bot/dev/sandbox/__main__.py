"""`python -m bot.dev.sandbox --port N`: the sandbox standing alone."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

from aiohttp import web

from bot.dev.sandbox.app import create_sandbox


def main() -> None:
    from bot.settings import load_settings

    parser = argparse.ArgumentParser(description="WeChat API sandbox, standing alone")
    parser.add_argument("--config")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9090)
    args = parser.parse_args()
    settings = load_settings(args.config)
    root = web.Application()
    root.add_subapp("/sandbox", create_sandbox(settings.wechat.app_id, settings.wechat.app_secret))
    print(f"WeChat API sandbox on http://{args.host}:{args.port}/sandbox "
          f"({datetime.now(UTC):%H:%M:%S} UTC)", flush=True)
    web.run_app(root, host=args.host, port=args.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
