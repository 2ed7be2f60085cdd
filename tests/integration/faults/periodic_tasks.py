"""A periodic task the beat tests schedule (loaded with HAULER_IMPORTS)."""

from __future__ import annotations

import json
import os
import time

from hauler import broker
from hauler.settings import get_settings
from workers.base import hauler_task

TICKS = "beat-test:ticks"


@hauler_task("tests.periodic_tick", queue="health")
def periodic_tick(note: str = "") -> int:
    """Note when it ran (and in which process); return how many runs are noted."""
    entry = json.dumps({"at": time.time(), "pid": os.getpid(), "note": note})
    return int(broker.shared(get_settings().broker_url).rpush(TICKS, entry))
