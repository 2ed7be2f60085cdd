"""The caps that refuse archive bombs: total bytes, bytes per archive byte, entry count."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from hauler.errors import DiskFull, UnsafeArchive

RESERVE = 16 * 1024 * 1024  # bytes always left free on the target's file system


@dataclass
class Budget:
    """What one extraction may still write; every check raises before the cap is passed."""

    archive_bytes: int  # size of the archive (all its volumes)
    max_bytes: int  # HAULER_ARCHIVES_MAX_BYTES
    max_ratio: int  # HAULER_ARCHIVES_MAX_RATIO
    max_entries: int  # HAULER_ARCHIVES_MAX_ENTRIES
    written: int = 0  # bytes written so far
    entries: int = 0  # entries seen so far

    @property
    def limit(self) -> int:
        """The most bytes this archive may expand to: the lower of the two caps."""
        return min(self.max_bytes, self.max_ratio * max(self.archive_bytes, 1))

    def declared(self, total: int, entries: int) -> None:
        """Check what the archive's index says, before anything is written."""
        self._check_entries(entries)
        self._check_bytes(total, "declares")

    def entry(self) -> None:
        """Note one more entry."""
        self.entries += 1
        self._check_entries(self.entries)

    def add(self, count: int) -> None:
        """Note ``count`` more bytes written."""
        self.written += count
        self._check_bytes(self.written, "expanded to")

    def _check_entries(self, entries: int) -> None:
        if entries > self.max_entries:
            raise UnsafeArchive(
                f"archive has more than {self.max_entries} entries "
                "(HAULER_ARCHIVES_MAX_ENTRIES); refused as a bomb"
            )

    def _check_bytes(self, total: int, verb: str) -> None:
        if total > self.max_bytes:
            raise UnsafeArchive(
                f"archive {verb} more than {self.max_bytes} bytes "
                "(HAULER_ARCHIVES_MAX_BYTES); refused as a bomb"
            )
        if total > self.max_ratio * max(self.archive_bytes, 1):
            raise UnsafeArchive(
                f"archive {verb} more than {self.max_ratio}x its own "
                f"{self.archive_bytes} bytes (HAULER_ARCHIVES_MAX_RATIO); refused as a bomb"
            )


def check_room(directory: Path, needed: int) -> None:
    """Fail before extracting, not half-way, when ``directory``'s disk cannot hold ``needed``.

    Raises:
        DiskFull: fewer than ``needed`` bytes (plus a small reserve) are free.
    """
    free = shutil.disk_usage(directory).free
    if needed + RESERVE > free:
        raise DiskFull(
            f"extracting needs {needed} bytes but {directory} has {free} free "
            f"({RESERVE // 2**20} MiB are kept in reserve)"
        )
