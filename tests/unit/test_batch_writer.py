"""Rows are written in batches; an outage buffers and retries; overflow is counted."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.exc import IntegrityError, OperationalError

from hauler.recorder.writer import BatchWriter


class Sink:
    """A sink that records each batch and can be switched into an outage."""

    def __init__(self) -> None:
        self.batches: list[list[dict[str, Any]]] = []
        self.down = False

    def __call__(self, rows: Sequence[dict[str, Any]]) -> None:
        if self.down:
            raise OperationalError("INSERT", {}, Exception("connection refused"))
        if any(row.get("poison") for row in rows):
            raise IntegrityError("INSERT", {}, Exception("bad row"))
        self.batches.append(list(rows))


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_rows_are_written_in_batches_not_one_per_transaction():
    sink = Sink()
    writer = BatchWriter(sink, batch_size=100, clock=Clock())
    for i in range(250):
        writer.add({"n": i})
    while writer.flush_once():
        pass
    assert [len(batch) for batch in sink.batches] == [100, 100, 50]
    assert writer.written == 250


def test_an_outage_keeps_rows_and_retries_with_backoff():
    sink, clock = Sink(), Clock()
    writer = BatchWriter(sink, batch_size=10, clock=clock)
    sink.down = True
    for i in range(5):
        writer.add({"n": i})
    assert writer.flush_once() == 0
    assert writer.buffered == 5 and writer.last_error is not None
    sink.down = False
    assert writer.flush_once() == 0  # still backing off
    clock.now += 1.0
    assert writer.flush_once() == 5
    assert [row["n"] for row in sink.batches[0]] == [0, 1, 2, 3, 4]
    assert writer.dropped == 0 and writer.last_error is None


def test_overflow_drops_the_oldest_and_counts_them():
    sink = Sink()
    writer = BatchWriter(sink, batch_size=10, buffer_max=100, clock=Clock())
    sink.down = True
    for i in range(130):
        writer.add({"n": i})
    assert writer.buffered == 100 and writer.dropped == 30


def test_a_refused_row_is_dropped_alone():
    sink = Sink()
    writer = BatchWriter(sink, batch_size=10, clock=Clock())
    for i in range(3):
        writer.add({"n": i, "poison": i == 1})
    writer.flush_once()
    assert [batch[0]["n"] for batch in sink.batches] == [0, 2]
    assert writer.dropped == 1 and writer.buffered == 0
