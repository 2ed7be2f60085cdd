"""``archives.extract`` as a plain function: validate, stage, extract within the caps, place."""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hauler.archives import pyformats, receipts, tools
from hauler.archives.formats import Archive, detect, folder_name
from hauler.archives.limits import Budget
from hauler.archives.names import sanitise_tree
from hauler.archives.pyformats import Outcome
from hauler.downloads.safety import inside, safe_name
from hauler.errors import InvalidArgument
from hauler.paths import file_under_roots
from hauler.progress import Meter, ProgressFn
from hauler.settings import Settings

STAGING = ".hauler-extracting"  # under the download root: same file system, atomic rename


@dataclass(frozen=True)
class Request:
    """The validated arguments of one extraction."""

    archive: Archive
    dest: Path  # the directory the extracted folder goes into
    password: str | None
    delete_after: bool


def run(
    settings: Settings,
    path: Any,
    *,
    dest: Any,
    password: Any,
    delete_after: Any,
    task_id: str,
    progress: ProgressFn,
) -> dict[str, Any]:
    """Validate and extract once per task id: a redelivered task gets the first result."""
    done = receipts.find(settings.broker_url, task_id, path)
    if done is not None:
        return done
    request = validate(settings, path, dest, password, delete_after)
    result = extract(settings, request, task_id=task_id, progress=progress)
    receipts.keep(settings.broker_url, task_id, path, result, settings.result_expires)
    return result


def validate(settings: Settings, path: Any, dest: Any, password: Any, delete_after: Any) -> Request:
    """Check every argument; the error names the one that is wrong."""
    downloads = settings.download_dir.resolve()
    roots = settings.archives.roots or (settings.data_dir.resolve(), downloads)
    source = file_under_roots(path, roots, "HAULER_ARCHIVES_ROOTS")
    if dest is not None and (not isinstance(dest, str) or dest.startswith("/")):
        raise InvalidArgument("dest", "must be a directory relative to the download root")
    if dest is None:
        parent = source.parent
        dest_dir = parent if parent.is_relative_to(downloads) else downloads
    else:
        dest_dir = inside(downloads, dest)
    if password is not None and (not isinstance(password, str) or not password):
        raise InvalidArgument("password", "must be a non-empty string")
    if not isinstance(delete_after, bool):
        raise InvalidArgument("delete_after", "must be true or false")
    return Request(detect(source), dest_dir, password, delete_after)


def extract(
    settings: Settings, request: Request, *, task_id: str, progress: ProgressFn
) -> dict[str, Any]:
    """Extract ``request.archive`` into a new folder under ``request.dest``.

    The archive is written into ``<download root>/.hauler-extracting/<task id>/`` first,
    checked against the caps while it is written, and renamed into place at the end; on
    any failure the staging folder is removed and nothing is left behind.

    Returns:
        ``{"path", "files", "bytes", "entries", "format", "skipped", "deleted", "seconds"}``.
    """
    started = time.monotonic()
    archive = request.archive
    staging = settings.download_dir / STAGING / safe_name(task_id)
    shutil.rmtree(staging, ignore_errors=True)
    name = safe_name(folder_name(archive.path), fallback="archive")
    root = staging / name
    root.mkdir(parents=True)
    caps = settings.archives
    budget = Budget(archive.size, caps.max_bytes, caps.max_ratio, caps.max_entries)
    meter = Meter(None, progress)
    try:
        outcome = _extract(settings, archive, root, budget, request.password, meter)
        _drop_links(root, outcome)
        sanitise_tree(root)
        files, size = _count(root)
        meter.finish(size)
        final = _place(root, request.dest)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        with contextlib.suppress(OSError):
            staging.parent.rmdir()  # the last extraction running takes the folder away
    deleted = False
    if request.delete_after:
        for volume in archive.volumes:
            volume.unlink(missing_ok=True)
        deleted = True
    return {
        "path": str(final),
        "files": files,
        "bytes": size,
        "entries": sorted(p.name for p in final.iterdir()),
        "format": archive.kind,
        "skipped": outcome.skipped,
        "deleted": deleted,
        "seconds": round(time.monotonic() - started, 3),
    }


def _extract(
    settings: Settings,
    archive: Archive,
    root: Path,
    budget: Budget,
    password: str | None,
    meter: Meter,
) -> Outcome:
    caps = settings.archives
    if archive.kind == "zip" and not pyformats.zip_needs_7z(archive):
        return pyformats.extract_zip(archive, root, budget, password, meter)
    if archive.kind in ("zip", "7z"):
        return tools.extract_7z(archive, root, budget, password, meter, caps)
    if archive.kind == "rar":
        return tools.extract_rar(archive, root, budget, password, meter, caps)
    return pyformats.extract_tar(archive, root, budget, caps.zstd, meter)


def _drop_links(root: Path, outcome: Outcome) -> None:
    """Remove whatever is neither a regular file nor a folder (a second line of defence)."""
    for path in list(root.rglob("*")):
        if path.is_symlink() or not (path.is_file() or path.is_dir()):
            outcome.skipped.append(str(path.relative_to(root)))
            path.unlink(missing_ok=True)


def _count(root: Path) -> tuple[int, int]:
    files = [p for p in root.rglob("*") if p.is_file()]
    return len(files), sum(p.stat().st_size for p in files)


def _place(root: Path, dest_dir: Path) -> Path:
    """Rename the extracted folder into ``dest_dir`` under a free name (`` (1)``… if taken)."""
    dest_dir.mkdir(parents=True, exist_ok=True)
    target, counter = dest_dir / root.name, 1
    while target.exists():
        target = dest_dir / f"{root.name} ({counter})"
        counter += 1
    try:
        os.rename(root, target)
    except OSError:  # another file system below the root: copy next to it, then rename
        temporary = dest_dir / f".{target.name}.incoming"
        shutil.copytree(root, temporary)
        os.rename(temporary, target)
    return target
