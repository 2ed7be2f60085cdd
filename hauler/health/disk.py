"""Probe of free disk space under the data, staging and download directories."""

from __future__ import annotations

import os
from pathlib import Path

from hauler.health.context import ProbeContext
from hauler.health.document import Observation, Status


def existing(path: Path) -> Path:
    """``path``, or its nearest existing parent (a directory not made yet is on that disk)."""
    path = path.absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def free_ratio(path: Path) -> tuple[float, int, int]:
    """(free/total as seen by an unprivileged writer, free bytes, total bytes) of ``path``."""
    stats = os.statvfs(existing(path))
    total = stats.f_blocks * stats.f_frsize
    free = stats.f_bavail * stats.f_frsize
    return (free / total if total else 0.0), free, total


def disk(ctx: ProbeContext) -> list[Observation]:
    """``disk:freeRatio`` per directory: warn and fail below the configured ratios."""
    dirs = {
        "data": ctx.settings.data_dir,
        "staging": ctx.settings.staging_dir,
        "downloads": ctx.settings.download_dir,
    }
    found = []
    for name, path in dirs.items():
        try:
            ratio, free, total = free_ratio(path)
        except OSError as exc:
            found.append(
                Observation("disk:freeRatio", Status.FAIL, None, "ratio", f"{path}: {exc}", name)
            )
            continue
        status = (
            Status.FAIL
            if ratio < ctx.health.disk_fail_ratio
            else Status.WARN
            if ratio < ctx.health.disk_warn_ratio
            else Status.PASS
        )
        output = (
            f"{path}: {free} of {total} bytes free ({ratio:.1%}; warn below "
            f"{ctx.health.disk_warn_ratio:.0%}, fail below {ctx.health.disk_fail_ratio:.0%})"
            if status
            else ""
        )
        found.append(
            Observation("disk:freeRatio", status, round(ratio, 4), "ratio", output, name, "system")
        )
    return found
