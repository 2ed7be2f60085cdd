"""``hauler status``: per queue depth, latency and workers; recent failures."""

from __future__ import annotations

import argparse
from typing import Any

from hauler import activity, broker, deadletter, parking
from hauler.cli.common import need_database, need_redis, settings, when
from hauler.queues import DEFAULT_QUEUE, QUEUES


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("status", help="queues, workers and recent failures")
    parser.add_argument("--failures", type=int, default=5, help="recent failures to show")
    parser.set_defaults(func=run)


def workers_per_queue(timeout: float = 1.0) -> dict[str, int]:
    """How many workers consume each queue (by broadcast inspection)."""
    from workers.app import app

    counts = dict.fromkeys((*QUEUES, DEFAULT_QUEUE), 0)
    replies = app.control.inspect(timeout=timeout).active_queues() or {}
    for queues in replies.values():
        for queue in queues or ():
            if queue.get("name") in counts:
                counts[queue["name"]] += 1
    return counts


def run(args: argparse.Namespace) -> int:
    client = need_redis()
    url = need_database()
    workers = workers_per_queue()
    print(f"{'queue':<12} {'depth':>7} {'latency':>9} {'workers':>8}")
    for queue in (*QUEUES, DEFAULT_QUEUE):
        reading = broker.sample(client, queue)
        print(f"{queue:<12} {reading.depth:>7} {reading.latency:>8.1f}s {workers[queue]:>8}")
    drained = parking.drain_quietly(settings())
    print(f"\ndead letters: {deadletter.count(url)} (hauler dlq list)")
    held = parking.counts(settings().broker_url)
    if held["parked"] or held["moving"] or held["quarantined"] or drained.stopped:
        print(
            f"  parked in Redis: {held['parked'] + held['moving']}; "
            f"quarantined (refused by the database): {held['quarantined']} "
            "(hauler dlq quarantine)"
        )
    _show_autoscaler(client, url)
    _show_clients(client)
    failures = activity.recent_failures(url, limit=args.failures)
    if failures:
        print("recent failures:")
    for row in failures:
        payload = row.payload if isinstance(row.payload, dict) else {}
        detail = payload.get("exception") or payload.get("reason") or ""
        print(f"  {when(row.occurred_at)}  {row.task_name}  {row.status}  {detail}"[:160])
    return 0


def _show_clients(client: Any) -> None:
    """Download clients out of selection: in backoff, or paused for a full disk."""
    import time

    from hauler.downloads import client_backoff, client_pause

    now = time.time()
    out, watched = [], []
    for name, info in sorted(client_pause.all_paused(client).items()):
        out.append(f"  {name:<12} paused: {info.get('reason', 'paused')}")
    for name, state in sorted(client_backoff.Backoffs(client).all()):
        if state.out(now):
            out.append(
                f"  {name:<12} backed off {state.remaining(now):.0f}s more (level {state.level})"
            )
        elif state.level:
            watched.append(f"  {name:<12} in selection, backoff level {state.level}")
    print(
        f"download clients: {len(out)} out of selection"
        if out
        else "download clients: all in selection"
    )
    for line in (*out, *watched):
        print(line)


def _show_autoscaler(client: Any, url: str) -> None:
    from autoscale import decisions
    from autoscale.lock import KEY
    from autoscale.loop import OVERRIDE_KEY

    leader = client.get(KEY)
    print(f"autoscaler: {'leader ' + leader.decode() if leader else 'not running'}")
    for queue in (*QUEUES,):
        pinned = client.get(OVERRIDE_KEY.format(queue=queue))
        if pinned is not None:
            ttl = client.pttl(OVERRIDE_KEY.format(queue=queue))
            until = f" for {ttl / 1000:.0f}s more" if ttl and ttl > 0 else ""
            print(f"  {queue} pinned to {int(pinned)} worker(s){until}")
    for row in decisions.recent(url, limit=5):
        print(
            f"  {when(row.decided_at)}  {row.queue:<12} {row.from_workers} → {row.to_workers}  "
            f"{row.reason}"[:160]
        )
