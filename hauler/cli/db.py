"""``hauler db``: database migrations."""

from __future__ import annotations

import argparse
from typing import Any

from hauler.cli.common import need_database
from hauler.store.db import redacted


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("db", help="database schema")
    commands = parser.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    upgrade = commands.add_parser("upgrade", help="apply every migration (idempotent)")
    upgrade.set_defaults(func=run_upgrade)


def run_upgrade(args: argparse.Namespace) -> int:
    url = need_database(migrate=True)
    print(f"database {redacted(url)} is up to date")
    return 0
