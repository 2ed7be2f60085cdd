"""What the clients that poll a peer program share: progress with a rate, and the wait."""

from __future__ import annotations

import time
from collections.abc import Callable

from hauler.downloads.clients.base import Progress


class Meter:
    """Turns the byte counts a peer reports, poll after poll, into Progress with a rate."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.started = clock()
        self.first: int | None = None
        self.last = Progress(0, None, 0.0)

    def __call__(self, done: int, total: int | None) -> Progress:
        """Progress at ``done`` of ``total`` bytes; the rate is the average since the first poll."""
        if self.first is None:
            self.first, self.started = done, self.clock()
        elapsed = self.clock() - self.started
        rate = (done - self.first) / elapsed if elapsed > 0 else 0.0
        self.last = Progress(done, total, max(rate, 0.0))
        return self.last

    def finish(self, size: int) -> Progress:
        """The last word: the whole ``size`` is here."""
        elapsed = self.clock() - self.started
        rate = self.last.rate if elapsed <= 0 else max(size - (self.first or 0), 0) / elapsed
        return Progress(size, size, rate)
