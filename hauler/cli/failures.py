"""``hauler classify`` and ``hauler failures``: why a failure was treated as it was."""

from __future__ import annotations

import argparse
from typing import Any

from hauler.failures.categories import Category
from hauler.failures.classify import CLIENTS, classify_text


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "classify", help="the category Hauler gives a client's status or message"
    )
    parser.add_argument("client", choices=CLIENTS)
    parser.add_argument("text", help="a status word, an error code or a failure message")
    parser.set_defaults(func=run_classify)
    parser = subparsers.add_parser("failures", help="recent download failures and recovery")
    parser.add_argument("--all", action="store_true", help="include recovered and given up")
    parser.add_argument("--category", choices=[c.value for c in Category])
    parser.add_argument("--limit", type=int, default=30, help="rows to show")
    parser.set_defaults(func=run_failures)


def run_classify(args: argparse.Namespace) -> int:
    verdict = classify_text(args.client, args.text)
    if verdict.retry_same:
        retried = "yes"
    else:
        retried = "no (the same release is never retried for this category)"
    print(f"category:   {verdict.category.value}")
    print(f"severity:   {verdict.severity.value}")
    print(f"retried:    {retried}")
    print(f"strategies: {' → '.join(s.value for s in verdict.strategies)}")
    if verdict.rule is None:
        print("rule:       none matched (a translated or unknown text)")
    else:
        print(f"rule:       {verdict.rule.field} {verdict.rule.pattern!r} ({verdict.rule.source})")
    return 0


def run_failures(args: argparse.Namespace) -> int:
    from hauler.cli.common import need_database, when
    from hauler.recovery import records

    rows = records.recent(
        need_database(), include_closed=args.all, category=args.category, limit=args.limit
    )
    if not rows:
        print("no failures" + ("" if args.all else " open (--all shows recovered/given up)"))
        return 0
    print(
        f"{'when':<19} {'client':<11} {'job':<18} {'category':<13} {'state':<10} "
        f"{'strategy':<12} {'next':<19} message"
    )
    for row in rows:
        nxt = when(row.next_attempt_at) if row.next_attempt_at else "-"
        print(
            f"{when(row.failed_at):<19} {row.client:<11} {row.job_id[:18]:<18} "
            f"{row.category:<13} {row.state:<10} {(row.strategy or '-'):<12} {nxt:<19} "
            f"{(row.message or '')[:80]}"
        )
    return 0
