"""Entry point of ``hauler``: builds the parser from the command modules and runs one.

A command module exposes ``register(subparsers)``, which adds its sub-command(s) and
sets ``func`` to a handler ``(args) -> int``. Errors Hauler recognises (a service that
is down, a bad setting, a bad argument) print one line to stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from hauler.errors import ConfigurationError, HaulerError, ServiceUnavailable

#: Command modules under hauler.cli, in the order `hauler --help` lists them.
COMMAND_MODULES: tuple[str, ...] = (
    "enqueue",
    "transfers",
    "status",
    "dlq",
    "activity",
    "processes",
    "db",
    "media",
    "autoscale",
    "notify",
    "schedule",
    "report",
    "health",
    "backup",
    "failures",
)


def build_parser() -> argparse.ArgumentParser:
    """The full ``hauler`` parser."""
    parser = argparse.ArgumentParser(
        prog="hauler", description="Hauler: Celery task platform for moving and processing files."
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(f"hauler.cli.{name}").register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one ``hauler`` command; return its exit status."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except ConfigurationError as exc:
        for problem in exc.problems:
            print(f"hauler: configuration: {problem}", file=sys.stderr)
        return 2
    except ServiceUnavailable as exc:
        print(f"hauler: {exc}", file=sys.stderr)
        return 3
    except HaulerError as exc:
        print(f"hauler: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # output piped into `head` and the like
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
