"""``hauler health [--json]``: every health check, now (the document ``health.check`` stores)."""

from __future__ import annotations

import argparse
import contextlib
from typing import Any

from hauler.cli.common import dumps, need_database, settings
from hauler.errors import ServiceUnavailable
from hauler.health.document import entries, status_of
from hauler.health.report import health_document

MARK = {"pass": "ok  ", "warn": "WARN", "fail": "FAIL"}


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "health", help="check broker, database, workers, beat, recorder, disk, clients, backups"
    )
    parser.add_argument("--json", action="store_true", help="the application/health+json document")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print the document; exit 1 when it fails (pass and warn exit 0)."""
    with contextlib.suppress(ServiceUnavailable):  # a database that is down is reported below
        need_database()
    document = health_document(settings())
    if args.json:
        print(dumps(document))
    else:
        print(f"health: {document['status']}  ({document['time']})")
        for key, entry in entries(document):
            ident = f"[{entry['componentId']}]" if entry.get("componentId") else ""
            value = entry.get("observedValue")
            shown = "-" if value is None else f"{value} {entry.get('observedUnit', '')}".strip()
            line = f"  {MARK[entry['status']]}  {key + ident:<36} {shown}"
            if entry.get("output"):
                line += f"  — {entry['output']}"
            print(line[:200])
    return 1 if status_of(document).name == "FAIL" else 0
