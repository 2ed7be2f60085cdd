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


def test_a_row_the_driver_refuses_is_dropped_alone_without_stopping_the_writer():
    # given a sink whose driver refuses one row with a plain ValueError (a NUL in text)
    class DriverSink(Sink):
        def __call__(self, rows: Sequence[dict[str, Any]]) -> None:
            if any(row.get("nul") for row in rows):
                raise ValueError("A string literal cannot contain NUL (0x00) characters.")
            super().__call__(rows)

    sink = DriverSink()
    writer = BatchWriter(sink, batch_size=10, clock=Clock())
    for i in range(5):
        writer.add({"n": i, "nul": i == 2})
    # when the batch is flushed, then the other rows are written and one is counted dropped
    assert writer.flush_once() == 5
    assert [row["n"] for batch in sink.batches for row in batch] == [0, 1, 3, 4]
    assert writer.dropped == 1 and writer.buffered == 0


def test_an_outage_in_the_middle_of_sorting_out_a_batch_keeps_the_rest_buffered():
    # given a batch with a refused row, and the database going away right after it
    class FlakySink(Sink):
        def __call__(self, rows: Sequence[dict[str, Any]]) -> None:
            if len(rows) == 1 and rows[0]["n"] == 3:
                self.down = True
            super().__call__(rows)

    sink = FlakySink()
    writer = BatchWriter(sink, batch_size=10, clock=Clock())
    for i in range(5):
        writer.add({"n": i, "poison": i == 1})
    # when it is flushed, then rows 0 and 2 are written, 1 dropped, 3 and 4 wait
    writer.flush_once()
    assert [row["n"] for batch in sink.batches for row in batch] == [0, 2]
    assert writer.dropped == 1 and writer.buffered == 2 and writer.last_error
