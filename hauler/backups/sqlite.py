"""SQLite: copies through the online backup API, integrity checks, restores, VACUUM."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from hauler.errors import BackupFailed, InvalidArgument, RetryableError

BUSY_TIMEOUT = 30.0  # seconds a copy waits for a writer to let go


def path_of(url: str) -> Path:
    """The file of a ``sqlite:///…`` URL."""
    if not url.startswith("sqlite:///"):
        raise InvalidArgument("url", f"{url!r} is not a sqlite:/// URL")
    name = url.removeprefix("sqlite:///").split("?", 1)[0]
    if not name or name == ":memory:":
        raise InvalidArgument("url", "an in-memory SQLite database cannot be backed up")
    return Path(name)


@contextlib.contextmanager
def _open(path: Path, *, read_only: bool = False) -> Iterator[sqlite3.Connection]:
    uri = f"file:{path}?mode=ro" if read_only else f"file:{path}"
    try:
        connection = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT)
    except sqlite3.OperationalError as exc:
        raise BackupFailed(f"cannot open SQLite file {path}: {exc}") from None
    try:
        yield connection
    finally:
        connection.close()


def tables(connection: sqlite3.Connection) -> list[str]:
    """Names of the ordinary tables (SQLite's own excluded), sorted."""
    rows = connection.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
        "ORDER BY name"
    )
    return [row[0] for row in rows]


def row_counts(connection: sqlite3.Connection) -> dict[str, int]:
    """Rows of every table."""
    return {
        name: int(
            connection.execute(
                f'SELECT count(*) FROM "{name.replace(chr(34), 2 * chr(34))}"'
            ).fetchone()[0]
        )
        for name in tables(connection)
    }


def copy(source: Path, dest: Path) -> dict[str, int]:
    """Copy a live database with the online backup API; return the copy's row counts."""
    if not source.is_file():
        raise BackupFailed(f"SQLite database {source} does not exist")
    with _open(source) as src, _open(dest) as dst:
        try:
            src.backup(dst)
        except sqlite3.OperationalError as exc:  # locked for longer than the busy timeout
            raise RetryableError(f"SQLite backup of {source} failed: {exc}") from None
        return row_counts(dst)


def check(path: Path) -> dict[str, int]:
    """``PRAGMA integrity_check`` on a copy; return its row counts, or BackupFailed."""
    with _open(path, read_only=True) as connection:
        try:
            answers = [row[0] for row in connection.execute("PRAGMA integrity_check")]
            if answers != ["ok"]:
                raise BackupFailed("integrity_check: " + "; ".join(map(str, answers[:5])))
            return row_counts(connection)
        except sqlite3.DatabaseError as exc:
            raise BackupFailed(f"SQLite copy {path} cannot be read: {exc}") from None


def restore(backup: Path, dest: Path) -> dict[str, int]:
    """Write the backup's pages over ``dest`` (the backup API, so a WAL database stays whole)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    with _open(backup, read_only=True) as src, _open(dest) as dst:
        src.backup(dst)
        return row_counts(dst)


def size(path: Path) -> int:
    """Bytes of the database file and its WAL."""
    total = 0
    for candidate in (path, path.with_name(path.name + "-wal")):
        with contextlib.suppress(FileNotFoundError):
            total += candidate.stat().st_size
    return total


def vacuum(path: Path) -> dict[str, int]:
    """``VACUUM`` the database (and checkpoint its WAL); return its bytes before and after."""
    before = size(path)
    with _open(path) as connection:
        free = int(connection.execute("PRAGMA freelist_count").fetchone()[0])
        page = int(connection.execute("PRAGMA page_size").fetchone()[0])
        connection.execute("VACUUM")
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        count = len(tables(connection))
    return {
        "tables": count,
        "bytes_before": before,
        "bytes_after": size(path),
        "free_pages": free,
        "page_size": page,
    }
