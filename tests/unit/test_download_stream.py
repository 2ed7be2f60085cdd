"""copy_hashing: the bytes and their sha256 in one pass, stoppable after any chunk."""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

import pytest

from hauler.downloads.stream import CHUNK, copy_hashing


def test_copies_every_byte_and_hashes_them(tmp_path: Path) -> None:
    body = os.urandom(5 * CHUNK + 123)
    target = tmp_path / "out.bin"
    fd = os.open(target, os.O_WRONLY | os.O_CREAT)
    seen: list[int] = []
    digest = hashlib.sha256()
    try:
        copied = copy_hashing(io.BytesIO(body), fd, digest, seen.append)
    finally:
        os.close(fd)
    assert copied == len(body) and target.read_bytes() == body
    assert digest.hexdigest() == hashlib.sha256(body).hexdigest()
    assert seen[-1] == len(body) and seen == sorted(seen)


def test_a_callback_that_raises_stops_the_copy_and_keeps_what_was_written(tmp_path: Path) -> None:
    body = os.urandom(4 * CHUNK)
    target = tmp_path / "out.bin"
    fd = os.open(target, os.O_WRONLY | os.O_CREAT)

    def limit(total: int) -> None:
        if total > CHUNK:
            raise OverflowError(total)

    try:
        with pytest.raises(OverflowError):
            copy_hashing(io.BytesIO(body), fd, hashlib.sha256(), limit)
    finally:
        os.close(fd)
    assert target.read_bytes() == body[: 2 * CHUNK]
