"""``downloads.fetch`` as a plain function: validate, choose a client, download, verify, place."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import redis

from hauler.downloads import selection
from hauler.downloads.clients.base import DownloadClient, Finished, Job, ProgressFn
from hauler.downloads.clients.registry import configured_clients
from hauler.downloads.links import Link, classify
from hauler.downloads.safety import check_address, inside, safe_name
from hauler.errors import InvalidArgument, PermanentError
from hauler.settings import Settings
from hauler.store.db import session_scope
from hauler.store.downloads_models import Download

_SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")


class ChecksumMismatch(PermanentError):
    """Raised when the downloaded bytes do not have the sha256 the caller expected."""


@dataclass(frozen=True)
class Request:
    """The validated arguments of one fetch."""

    link: Link
    dest: Path
    filename: str | None
    client: str
    sha256: str | None
    max_bytes: int | None


def validate(settings: Settings, url: Any, dest: Any, filename: Any, client: Any,
             sha256: Any, max_bytes: Any) -> Request:  # fmt: skip
    """Check every argument; the error names the one that is wrong."""
    link = classify(url)
    if dest is not None and (not isinstance(dest, str) or dest.startswith("/")):
        raise InvalidArgument("dest", "must be a directory relative to the download root")
    target = inside(settings.download_dir, dest or ".")
    if filename is not None and (not isinstance(filename, str) or safe_name(filename) != filename):
        raise InvalidArgument("filename", f"{filename!r} is not a plain file name")
    if not isinstance(client, str) or not client:
        raise InvalidArgument("client", "must be a client name or 'auto'")
    if sha256 is not None and (not isinstance(sha256, str) or not _SHA256.match(sha256)):
        raise InvalidArgument("sha256", "must be 64 hexadecimal characters")
    if max_bytes is not None and (isinstance(max_bytes, bool) or not isinstance(max_bytes, int)
                                  or max_bytes <= 0):  # fmt: skip
        raise InvalidArgument("max_bytes", "must be a positive whole number of bytes")
    return Request(link, target, filename, client, sha256.lower() if sha256 else None, max_bytes)


def fetch(
    settings: Settings,
    request: Request,
    *,
    task_id: str,
    progress: ProgressFn,
    clients: list[DownloadClient] | None = None,
    on_choice: Any = None,
) -> dict[str, Any]:
    """Download ``request`` and return where it landed.

    Returns:
        ``{"download_id", "path", "bytes", "sha256", "client", "reason", "seconds"}``.
    """
    started = time.monotonic()
    store = redis.Redis.from_url(settings.broker_url)
    clients = clients if clients is not None else configured_clients(settings)
    chosen, reason = selection.choose(request.link, clients, request.client, store)
    if on_choice:
        on_choice(chosen.name, reason)
    if not request.link.local and chosen.name != "http":  # the HTTP client checks every hop
        check_address(request.link.url, settings.downloads.allow_networks)
    workdir = settings.staging_dir / safe_name(task_id)
    workdir.mkdir(parents=True, exist_ok=True)
    job = Job(request.link, workdir, tag=f"hauler-{task_id}", max_bytes=request.max_bytes,
              filename=request.filename)  # fmt: skip
    with selection.track(store, chosen.name):
        finished = chosen.download(job, progress)
    digest = _verify(finished, request)
    final = _place(finished.path, request.dest, digest)
    shutil.rmtree(workdir, ignore_errors=True)
    seconds = round(time.monotonic() - started, 3)
    size = _size(final)
    download_id = _record(
        settings, task_id, request, chosen.name, reason, final, size, digest, seconds
    )
    return {"download_id": download_id, "path": str(final), "bytes": size, "sha256": digest,
            "client": chosen.name, "reason": reason, "seconds": seconds}  # fmt: skip


def _verify(finished: Finished, request: Request) -> str:
    if finished.path.is_dir():
        digest = _tree_digest(finished.path)
    else:
        digest = finished.sha256 or _file_digest(finished.path)
    if request.max_bytes is not None and _size(finished.path) > request.max_bytes:
        shutil.rmtree(
            finished.path, ignore_errors=True
        ) if finished.path.is_dir() else finished.path.unlink()
        raise PermanentError(f"download is larger than max_bytes={request.max_bytes}")
    if request.sha256 and digest != request.sha256:
        finished.path.unlink(missing_ok=True)
        raise ChecksumMismatch(f"sha256 is {digest}, expected {request.sha256}")
    return digest


def _place(source: Path, dest_dir: Path, digest: str) -> Path:
    """Move ``source`` into ``dest_dir`` atomically, never overwriting a different file."""
    dest_dir.mkdir(parents=True, exist_ok=True)
    target = dest_dir / source.name
    counter = 1
    while target.exists():
        if target.is_file() and source.is_file() and _file_digest(target) == digest:
            source.unlink()
            return target  # the same bytes are already there: a redelivery did no harm
        target = dest_dir / f"{source.stem} ({counter}){source.suffix}"
        counter += 1
    try:
        os.replace(source, target)
    except OSError:  # another file system: copy next to the target, then rename
        temporary = dest_dir / f".{target.name}.incoming"
        if source.is_dir():
            shutil.copytree(source, temporary)
        else:
            shutil.copyfile(source, temporary)
        os.replace(temporary, target)
    return target


def _record(settings: Settings, task_id: str, request: Request, client: str, reason: str,
            path: Path, size: int, digest: str, seconds: float) -> int:  # fmt: skip
    with session_scope(settings.database_url) as session:
        row = Download(task_id=task_id, url=request.link.url, client=client, reason=reason,
                       path=str(path), bytes=size, sha256=digest, seconds=seconds,
                       finished_at=datetime.now(UTC))  # fmt: skip
        session.add(row)
        session.flush()
        return row.id


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def _tree_digest(root: Path) -> str:
    digest = hashlib.sha256()
    for file in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(str(file.relative_to(root)).encode() + b"\0" + _file_digest(file).encode())
    return digest.hexdigest()


def _size(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size
