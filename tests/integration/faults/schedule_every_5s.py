"""The beat tests' schedule (HAULER_BEAT_SCHEDULE): one entry every 5 seconds."""

from __future__ import annotations

from typing import Any

ENTRY = "tests-tick-every-5s"

SCHEDULE: dict[str, dict[str, Any]] = {
    ENTRY: {"task": "tests.periodic_tick", "schedule": 5.0, "options": {"expires": 4}},
}
