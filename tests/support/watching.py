"""Driving the watch in tests: ``polling.watch`` sent by name every ``every`` seconds,
as beat would, from a thread, until the block ends."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any


@contextlib.contextmanager
def watching(app: Any, every: float = 0.5) -> Iterator[list[dict[str, Any]]]:
    """Send ``polling.watch`` (queue ``polling``) by name every ``every`` seconds and wait
    for each pass; yields the list of the passes' results so far."""
    passes: list[dict[str, Any]] = []
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            with contextlib.suppress(Exception):  # a pass that times out: send the next one
                passes.append(app.send_task("polling.watch", queue="polling").get(timeout=60))
            stop.wait(every)

    thread = threading.Thread(target=loop, name="watch-driver", daemon=True)
    thread.start()
    try:
        yield passes
    finally:
        stop.set()
        thread.join(timeout=90)
