#!/usr/bin/env python3
"""小哥红驿 command line. `python run.py` serves (migrating the database first).

    python run.py [--config PATH] [serve [--port N]]
    python run.py migrate
    python run.py create-user NAME --role R [--grid CODE] [--group CODE]
    python run.py chat --openid X [--aes]
"""

from __future__ import annotations

import argparse
import sys

from bot.cli import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:], prog=argparse.ArgumentParser().prog))
