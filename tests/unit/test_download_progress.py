"""Progress is throttled to once a second, but the end of a transfer always gets through."""

from __future__ import annotations

from typing import Any

from hauler.progress import Progress, Throttled


def test_reports_at_most_once_a_second_and_always_the_end() -> None:
    now = [0.0]
    seen: list[dict[str, Any]] = []
    throttled = Throttled(seen.append, every=1.0, clock=lambda: now[0])
    for step in range(10):  # ten reports within 0.9 s
        now[0] = step * 0.1
        throttled(Progress(step * 10, 100, 50.0))
    assert [m["bytes"] for m in seen] == [0]
    now[0] = 1.05
    throttled(Progress(95, 100, 50.0))
    now[0] = 1.1
    throttled(Progress(100, 100, 50.0))  # the end, 50 ms later: still reported
    throttled(Progress(100, 100, 50.0))  # but only once
    assert [m["bytes"] for m in seen] == [0, 95, 100]
    assert seen[1] == {"bytes": 95, "total": 100, "rate": 50.0, "eta": 0.1}
    assert seen[2]["eta"] == 0.0


def test_unknown_totals_have_no_eta() -> None:
    seen: list[dict[str, Any]] = []
    Throttled(seen.append)(Progress(10, None, 5.0))
    assert seen == [{"bytes": 10, "total": None, "rate": 5.0, "eta": None}]
