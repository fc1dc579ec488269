"""Baseline 1, the ceiling: a bare aiohttp handler that reads the body and answers
`success`. No signature check, no parsing.

    python bench/baselines/bare.py --port 8081
"""

from __future__ import annotations

import argparse

from aiohttp import web


async def callback(request: web.Request) -> web.Response:
    await request.read()
    return web.Response(text="success")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    app = web.Application()
    app.router.add_post("/wechat", callback)
    web.run_app(app, host="127.0.0.1", port=p.parse_args().port, access_log=None,
                print=None)


if __name__ == "__main__":
    main()
