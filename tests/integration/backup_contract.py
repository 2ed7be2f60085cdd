"""The contract every backup engine keeps, run against PostgreSQL and SQLite alike.

A subclass provides the fixtures: ``engine`` (for a migrated database of its own),
``seed`` (adds N activity rows to it) and ``fresh_url`` (an empty database to restore into).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from hauler.backups.engines import BackupEngine
from hauler.errors import BackupFailed, RestoreRefused

ROWS = 2_000


def damage(path: Path, at_fraction: float = 0.5, count: int = 4096) -> None:
    """Invert ``count`` bytes from the middle of the file on."""
    data = bytearray(path.read_bytes())
    start = int(len(data) * at_fraction)
    for i in range(start, min(len(data), start + count)):
        data[i] ^= 0xFF
    path.write_bytes(bytes(data))


class BackupEngineContract:
    """Dump, prove, refuse a damaged copy, restore (and refuse to overwrite), vacuum."""

    def _dump(
        self, engine: BackupEngine, seed: Callable[[int], None], tmp_path: Path
    ) -> tuple[Path, dict[str, int]]:
        seed(ROWS)
        path = tmp_path / f"copy{engine.extension}"
        return path, engine.dump(path)

    def test_a_dump_counts_what_it_holds_and_proves_so(
        self, engine: BackupEngine, seed: Callable[[int], None], tmp_path: Path
    ) -> None:
        path, counts = self._dump(engine, seed, tmp_path)
        assert counts["activity"] == ROWS and counts["alembic_version"] == 1
        assert path.stat().st_size > 0 and engine.name and engine.kind in ("postgresql", "sqlite")
        assert engine.prove(path) == counts

    def test_a_damaged_copy_does_not_prove(
        self, engine: BackupEngine, seed: Callable[[int], None], tmp_path: Path
    ) -> None:
        path, _ = self._dump(engine, seed, tmp_path)
        damage(path)
        with pytest.raises(BackupFailed):
            engine.prove(path)

    def test_restore_round_trip_refuses_to_overwrite_without_replace(
        self,
        engine: BackupEngine,
        seed: Callable[[int], None],
        tmp_path: Path,
        fresh_url: str,
    ) -> None:
        path, counts = self._dump(engine, seed, tmp_path)
        assert engine.restore(path, fresh_url, replace=False) == counts
        with pytest.raises(RestoreRefused, match="--yes"):
            engine.restore(path, fresh_url, replace=False)
        assert engine.restore(path, fresh_url, replace=True) == counts

    def test_vacuum_reports_sizes(self, engine: BackupEngine, seed: Callable[[int], None]) -> None:
        seed(ROWS)
        sizes = engine.vacuum()
        assert sizes["tables"] >= 7
        assert sizes["bytes_before"] > 0 and sizes["bytes_after"] > 0
