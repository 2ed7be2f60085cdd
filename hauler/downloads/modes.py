"""File modes of finished downloads: files 0644 and directories 0755 under the usual umask.

Whatever wrote them (the in-process client, aria2, qBittorrent, NZBGet, SABnzbd), the
placed result gets ``0666`` for files and ``0777`` for directories, less the worker
process's umask — the modes ``open``/``mkdir`` give by default. Nothing is executable.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)

FILE_MODE = 0o666  # before the umask: rw for all
DIRECTORY_MODE = 0o777  # before the umask: rwx for all


def umask() -> int:
    """The process's umask, read without changing it (Linux), else by setting it back."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    current = os.umask(0o022)  # elsewhere: the only portable way to read it
    os.umask(current)
    return current


def normalise(path: Path) -> None:
    """Give ``path`` (a file, or a directory and all it holds) the default modes.

    A file the worker may not change (another user's) keeps its mode; that is logged.
    """
    mask = umask()
    entries = [path, *path.rglob("*")] if path.is_dir() else [path]
    for entry in entries:
        if entry.is_symlink():
            continue
        mode = (DIRECTORY_MODE if entry.is_dir() else FILE_MODE) & ~mask
        try:
            entry.chmod(mode)
        except OSError as exc:
            log.warning("could not set mode %o on %s: %s", mode, entry, exc.strerror)
