"""Which backups to keep: restic's ``forget`` policy as a pure function of catalog and clock.

Backups are walked newest first. Each rule has a bucket function (the backup itself
for ``last``; its calendar day, ISO week or month for the others) and a count: a
backup is kept by a rule when its bucket differs from the previous kept bucket of
that rule and the rule still has count left. The rules are OR'd, so one backup can be
kept for several reasons. A day, week or month with no backup does not use up a count
(restic's semantics: "the last N days that have a backup").

Besides the rules: a backup that failed verification is never kept by a rule (it
cannot stand in for a good one) but stays ``bad_grace`` for inspection; a backup
timed after ``now`` (a clock that jumped) is kept.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo


@dataclass(frozen=True)
class Policy:
    """How many backups each rule keeps (0 turns a rule off)."""

    last: int = 7
    daily: int = 7
    weekly: int = 4
    monthly: int = 6
    bad_grace: timedelta = timedelta(days=7)  # a bad backup stays this long for inspection


@dataclass(frozen=True)
class Entry:
    """What the policy needs of one catalog row."""

    id: int
    at: datetime  # when the backup was taken (aware)
    good: bool = True  # False when verification failed


@dataclass(frozen=True)
class Plan:
    """The outcome: every kept id with its reasons, and the ids to remove (newest first)."""

    keep: dict[int, tuple[str, ...]] = field(default_factory=dict)
    remove: tuple[int, ...] = ()


def _bucket_day(moment: datetime, _index: int) -> int:
    return moment.year * 10000 + moment.month * 100 + moment.day


def _bucket_week(moment: datetime, _index: int) -> int:
    year, week, _ = moment.isocalendar()
    return year * 100 + week


def _bucket_month(moment: datetime, _index: int) -> int:
    return moment.year * 100 + moment.month


def _bucket_last(_moment: datetime, index: int) -> int:
    return index


def plan(entries: Iterable[Entry], policy: Policy, now: datetime, tz: tzinfo = UTC) -> Plan:
    """Decide which backups to keep.

    Args:
        entries: catalog rows still on disk, in any order.
        policy: the counts per rule.
        now: the clock (aware), for bad backups' grace and backups from the future.
        tz: the zone whose calendar days, weeks and months make the buckets.

    Returns:
        A Plan; ``keep`` maps each kept id to why ("last", "daily", ...).
    """
    ordered = sorted(entries, key=lambda e: (e.at, e.id), reverse=True)
    rules: list[tuple[str, int, Callable[[datetime, int], int]]] = [
        ("last", policy.last, _bucket_last),
        ("daily", policy.daily, _bucket_day),
        ("weekly", policy.weekly, _bucket_week),
        ("monthly", policy.monthly, _bucket_month),
    ]
    left = [count for _, count, _ in rules]
    previous: list[int | None] = [None] * len(rules)
    keep: dict[int, tuple[str, ...]] = {}
    remove: list[int] = []
    good_index = 0
    for entry in ordered:
        reasons: list[str] = []
        if entry.at > now:
            reasons.append("future")
        if not entry.good:
            if now - entry.at < policy.bad_grace:
                reasons.append("bad, kept for inspection")
        else:
            local = entry.at.astimezone(tz)
            for i, (reason, _count, bucket) in enumerate(rules):
                if left[i] <= 0:
                    continue
                value = bucket(local, good_index)
                if value != previous[i]:
                    previous[i] = value
                    left[i] -= 1
                    reasons.append(reason)
            good_index += 1
        if reasons:
            keep[entry.id] = tuple(reasons)
        else:
            remove.append(entry.id)
    return Plan(keep=keep, remove=tuple(remove))
