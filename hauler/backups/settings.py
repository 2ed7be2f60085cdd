"""Settings of the backups queue (``HAULER_BACKUP_…``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Self

from hauler.env import EnvReader

UPLOAD_SCHEMES = ("file", "s3", "http", "https")


@dataclass(frozen=True)
class BackupSettings:
    """Where backups go, which programs make them, and how many are kept."""

    directory: Path | None = None  # HAULER_BACKUP_DIR; None = <data dir>/backups
    upload: str = ""  # off-site copy through uploads.push (s3://bucket/prefix, file://…); ""=none
    keep_last: int = 7  # the newest N backups are always kept
    keep_daily: int = 7  # and the newest of each of the last N days that have one
    keep_weekly: int = 4  # and of each of the last N ISO weeks that have one
    keep_monthly: int = 6  # and of each of the last N months that have one
    verify_after_run: bool = True  # backups.run verifies the new backup at once
    pg_dump: str = "pg_dump"  # pg_dump of the server's major version (postgresql-client-15)
    pg_restore: str = "pg_restore"  # pg_restore of the same version
    scratch_url: str = ""  # server where verify creates scratch databases; "" = Hauler's own
    command_timeout: int = 6 * 3600  # seconds one pg_dump/pg_restore run may take
    compress: int = 6  # pg_dump -Z level (0-9) of the custom format

    @classmethod
    def from_env(cls, reader: EnvReader) -> Self:
        directory = reader.text("HAULER_BACKUP_DIR", "")
        upload = reader.text("HAULER_BACKUP_UPLOAD", "")
        if upload and upload.split("://", 1)[0].lower() not in UPLOAD_SCHEMES:
            reader.problems.append(
                f"HAULER_BACKUP_UPLOAD must be a {', '.join(UPLOAD_SCHEMES)} URL "
                "(e.g. s3://bucket/backups)"
            )
        return cls(
            directory=Path(directory).expanduser().absolute() if directory else None,
            upload=upload.rstrip("/"),
            keep_last=reader.integer("HAULER_BACKUP_KEEP_LAST", 7, minimum=1),
            keep_daily=reader.integer("HAULER_BACKUP_KEEP_DAILY", 7, minimum=0),
            keep_weekly=reader.integer("HAULER_BACKUP_KEEP_WEEKLY", 4, minimum=0),
            keep_monthly=reader.integer("HAULER_BACKUP_KEEP_MONTHLY", 6, minimum=0),
            verify_after_run=reader.boolean("HAULER_BACKUP_VERIFY_AFTER_RUN", True),
            pg_dump=reader.text("HAULER_BACKUP_PG_DUMP", "pg_dump"),
            pg_restore=reader.text("HAULER_BACKUP_PG_RESTORE", "pg_restore"),
            scratch_url=reader.text("HAULER_BACKUP_SCRATCH_URL", ""),
            command_timeout=reader.integer("HAULER_BACKUP_COMMAND_TIMEOUT", 6 * 3600, minimum=10),
            compress=reader.integer("HAULER_BACKUP_COMPRESS", 6, minimum=0, maximum=9),
        )
