#!/usr/bin/env python3
"""小哥红驿 command line. `python run.py` serves (migrating the database first).

Every command takes --config PATH before it (default: config.yaml); `--help` after one
explains it.

    python run.py [serve [--port N]]               serve the bot (the default)
    python run.py migrate                          apply database migrations
    python run.py remove-demo-accounts             delete the dev demo console accounts
                                                   (prod refuses to start while they exist)
    python run.py create-user NAME --role R [--grid CODE] [--group CODE]
                                                   a console account; prints a 绑定 code
    python run.py notify --audience A --title T --body B [--url U] [--at ISO8601]
                                                   send a notice now or at a time
    python run.py import-members FILE.csv          members registered elsewhere
    python run.py menu                             validate the menu and push it to WeChat
    python run.py import-stations FILE             stations from CSV or YAML, by code
    python run.py import-courses FILE              小哥党校 courses from CSV or YAML, by code
    python run.py create-group NAME --industry I [--leader USER]
                                                   a cloud party group; prints its invite code
    python run.py import-grids FILE.geojson        grids from a GeoJSON FeatureCollection
    python run.py qrcodes [--out DIR]              a PNG QR code per station, group, course
    python run.py chat --openid X [--url URL] [--aes]
                                                   talk to a running bot from the terminal
"""

from __future__ import annotations

import argparse
import sys

from bot.cli import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:], prog=argparse.ArgumentParser().prog))
