"""Settings of the archives queue (``HAULER_ARCHIVES_…``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Self

from hauler.env import EnvReader

GIB = 1024**3


@dataclass(frozen=True)
class ArchiveSettings:
    """What archives.extract may read, and the caps that refuse bombs."""

    roots: tuple[Path, ...] = ()  # archives must lie under one of these; () = data + download dir
    max_bytes: int = 100 * GIB  # most bytes one extraction may write
    max_ratio: int = 200  # most bytes written per byte of archive (zeros compress ~1000:1)
    max_entries: int = 100_000  # most entries (files, folders, links) one archive may hold
    sevenzip: str = "7z"  # the 7z program (Debian's p7zip-full), for 7z and AES zips
    unar: str = "unar"  # unar and lsar (Debian's unar), for rar
    lsar: str = "lsar"  # lists rar archives for unar
    zstd: str = "zstd"  # decompresses .tar.zst for tarfile
    command_timeout: int = 3600  # seconds one 7z/unar run may take

    @classmethod
    def from_env(cls, reader: EnvReader) -> Self:
        roots = reader.text("HAULER_ARCHIVES_ROOTS", "")
        return cls(
            roots=tuple(Path(r).expanduser().resolve() for r in roots.split(":") if r.strip()),
            max_bytes=reader.integer("HAULER_ARCHIVES_MAX_BYTES", 100 * GIB, minimum=1),
            max_ratio=reader.integer("HAULER_ARCHIVES_MAX_RATIO", 200, minimum=1),
            max_entries=reader.integer("HAULER_ARCHIVES_MAX_ENTRIES", 100_000, minimum=1),
            sevenzip=reader.text("HAULER_ARCHIVES_7Z", "7z"),
            unar=reader.text("HAULER_ARCHIVES_UNAR", "unar"),
            lsar=reader.text("HAULER_ARCHIVES_LSAR", "lsar"),
            zstd=reader.text("HAULER_ARCHIVES_ZSTD", "zstd"),
            command_timeout=reader.integer("HAULER_ARCHIVES_COMMAND_TIMEOUT", 3600, minimum=1),
        )
