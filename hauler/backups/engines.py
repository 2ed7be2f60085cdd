"""The database kinds backups support, behind one Protocol: PostgreSQL and SQLite."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Protocol

from hauler.backups import pg, sqlite
from hauler.backups.settings import BackupSettings
from hauler.errors import RestoreRefused, Unsupported


class BackupEngine(Protocol):
    """How to copy one kind of database, prove a copy restores, restore it and vacuum it.

    Every method that reads a copy raises ``BackupFailed`` when it is damaged; one that
    cannot reach the database raises ``RetryableError``.
    """

    kind: str  # "postgresql" | "sqlite": the catalog's ``kind``
    extension: str  # of backup files

    @property
    def name(self) -> str:
        """The catalog's (and the metrics') name of the database: never a URL or password."""
        ...

    def dump(self, path: Path) -> dict[str, int]:
        """Write a consistent copy to ``path``; return its row counts per table."""
        ...

    def prove(self, path: Path) -> dict[str, int]:
        """Restore the copy somewhere disposable and return the row counts found there."""
        ...

    def restore(self, path: Path, url: str, *, replace: bool) -> dict[str, int]:
        """Restore the copy into the database at ``url``; return the row counts there.

        Without ``replace``, a database that already has tables is refused (RestoreRefused).
        """
        ...

    def vacuum(self) -> dict[str, int]:
        """Optimise the database: ``{"tables", "bytes_before", "bytes_after", ...}``."""
        ...


class PostgresEngine:
    """``pg_dump -Fc`` under one snapshot; proven by a full read and a scratch restore."""

    kind = "postgresql"
    extension = ".dump"

    def __init__(self, url: str, options: BackupSettings) -> None:
        self.target = pg.Target.parse(url)
        self.options = options

    @property
    def name(self) -> str:
        return self.target.name

    def dump(self, path: Path) -> dict[str, int]:
        return pg.dump(
            self.target,
            path,
            pg_dump=self.options.pg_dump,
            compress=self.options.compress,
            timeout=self.options.command_timeout,
        )

    def prove(self, path: Path) -> dict[str, int]:
        options = self.options
        pg.full_read(path, pg_restore=options.pg_restore, timeout=options.command_timeout)
        server = pg.Target.parse(options.scratch_url) if options.scratch_url else self.target
        with pg.scratch_database(server, "verify") as scratch:
            pg.restore(
                path, scratch, pg_restore=options.pg_restore, timeout=options.command_timeout
            )
            return pg.counts_of(scratch, self.target.schema)

    def restore(self, path: Path, url: str, *, replace: bool) -> dict[str, int]:
        target = pg.Target.parse(url)
        if not replace and pg.counts_of(target, target.schema):
            raise RestoreRefused(f"{target.name} already has tables; pass --yes to replace them")
        pg.restore(
            path,
            target,
            pg_restore=self.options.pg_restore,
            timeout=self.options.command_timeout,
            clean=replace,
        )
        return pg.counts_of(target, self.target.schema)

    def vacuum(self) -> dict[str, int]:
        return pg.vacuum(self.target)


class SqliteEngine:
    """The online backup API; proven by ``PRAGMA integrity_check`` on a copy of the copy."""

    kind = "sqlite"
    extension = ".sqlite3"

    def __init__(self, url: str) -> None:
        self.path = sqlite.path_of(url)

    @property
    def name(self) -> str:
        return self.path.name

    def dump(self, path: Path) -> dict[str, int]:
        return sqlite.copy(self.path, path)

    def prove(self, path: Path) -> dict[str, int]:
        with tempfile.TemporaryDirectory(prefix="verify-", dir=path.parent) as work:
            copy = Path(work) / path.name
            shutil.copyfile(path, copy)
            return sqlite.check(copy)

    def restore(self, path: Path, url: str, *, replace: bool) -> dict[str, int]:
        dest = sqlite.path_of(url)
        if dest.exists() and not replace and dest.stat().st_size > 0:
            raise RestoreRefused(f"{dest} exists; pass --yes to replace it")
        return sqlite.restore(path, dest)

    def vacuum(self) -> dict[str, int]:
        return sqlite.vacuum(self.path)


def kind_of(url: str) -> str:
    """``postgresql`` or ``sqlite`` for a database URL; Unsupported otherwise."""
    scheme = url.split(":", 1)[0].split("+", 1)[0].lower()
    if scheme in ("postgresql", "postgres"):
        return "postgresql"
    if scheme == "sqlite":
        return "sqlite"
    raise Unsupported(f"Hauler backs up PostgreSQL and SQLite databases, not {scheme!r}")


def engine_for(url: str, options: BackupSettings) -> BackupEngine:
    """The engine of the database at ``url``."""
    if kind_of(url) == "postgresql":
        return PostgresEngine(url, options)
    return SqliteEngine(url)
