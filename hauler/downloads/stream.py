"""Copy a byte stream to a file while hashing it, with the hash on a second core.

The reading thread fills a small ring of large buffers with ``readinto`` (no per-chunk
allocation) and writes each to the file; a hashing thread feeds the same buffers to
sha256, which releases the GIL. Memory stays at ``BUFFERS x CHUNK`` whatever the size.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable
from typing import Any, Protocol

CHUNK = 1024 * 1024  # small enough to stay in the CPU cache between read, write and hash
BUFFERS = 6


class ReadInto(Protocol):
    """Anything with ``readinto`` (a socket file, ``http.client.HTTPResponse``, a file)."""

    def readinto(self, buffer: Any, /) -> int | None: ...


class _Hasher(threading.Thread):
    """Hashes buffers in order, handing each back to the free pool when done."""

    def __init__(self, digest: Any, free: queue.Queue[bytearray]) -> None:
        super().__init__(name="hauler-sha256", daemon=True)
        self.digest = digest
        self.free = free
        self.work: queue.Queue[tuple[bytearray, int] | None] = queue.Queue()

    def run(self) -> None:
        while (item := self.work.get()) is not None:
            buffer, size = item
            self.digest.update(memoryview(buffer)[:size])
            self.free.put(buffer)


def copy_hashing(
    source: ReadInto, fd: int, digest: Any, on_chunk: Callable[[int], None] = lambda n: None
) -> int:
    """Copy ``source`` to the open file ``fd`` until EOF, updating ``digest``; return bytes.

    ``on_chunk(total_so_far)`` runs after every chunk is written; it may raise to stop the
    copy (for example when a size limit is passed). Whatever was written stays written;
    ``digest`` covers every chunk written in full (a resume re-hashes the file anyway).
    """
    free: queue.Queue[bytearray] = queue.Queue()
    for _ in range(BUFFERS):
        free.put(bytearray(CHUNK))
    hasher = _Hasher(digest, free)
    hasher.start()
    total = 0
    try:
        while True:
            buffer = free.get()
            size = source.readinto(buffer) or 0
            if size == 0:
                break
            _write_all(fd, memoryview(buffer)[:size])
            hasher.work.put((buffer, size))
            total += size
            on_chunk(total)
    finally:
        hasher.work.put(None)
        hasher.join()
    return total


def _write_all(fd: int, data: memoryview) -> None:
    while data:
        written = os.write(fd, data)
        data = data[written:]
