"""Content fingerprints for the media cache: a streamed hash, or a fast sampled one."""

from __future__ import annotations

import hashlib
from pathlib import Path

CHUNK = 1024 * 1024
SAMPLE = 4 * 1024 * 1024


def fingerprint(path: Path, full_hash_limit: int) -> str:
    """A fingerprint of ``path``'s content.

    Files up to ``full_hash_limit`` bytes: ``sha256:<hex>`` of the whole file, streamed.
    Larger files: ``fast:<hex>``, the sha256 of the size and of 4 MiB read at the head,
    the middle and the tail. An edit that keeps the size and touches none of those three
    windows is not seen; the cache TTL and ``hauler media invalidate`` cover that case.
    """
    size = path.stat().st_size
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        if size <= full_hash_limit:
            while chunk := handle.read(CHUNK):
                digest.update(chunk)
            return f"sha256:{digest.hexdigest()}"
        digest.update(str(size).encode())
        for offset in (0, max(0, size // 2 - SAMPLE // 2), max(0, size - SAMPLE)):
            handle.seek(offset)
            digest.update(handle.read(SAMPLE))
    return f"fast:{digest.hexdigest()}"
