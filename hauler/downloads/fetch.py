"""``downloads.fetch`` as a plain function: validate, choose a client, download, verify, place."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from hauler import broker
from hauler.downloads import modes, selection
from hauler.downloads.clients.base import DownloadClient, Finished, Job, StreamingClient
from hauler.downloads.clients.registry import configured_clients
from hauler.downloads.links import Link, LinkKind, classify
from hauler.downloads.mirrors import validate_mirrors
from hauler.downloads.redirects import final_url
from hauler.downloads.safety import inside, safe_name
from hauler.errors import InvalidArgument, PermanentError, RetryableError, TooLarge
from hauler.paths import file_sha256, file_under_roots
from hauler.progress import ProgressFn
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
    mirrors: tuple[str, ...] = ()  # other sources of the same content (recovery uses them)


def validate(
    settings: Settings,
    url: Any,
    dest: Any,
    filename: Any,
    client: Any,
    sha256: Any,
    max_bytes: Any,
    mirrors: Any = None,
) -> Request:
    """Check every argument; the error names the one that is wrong."""
    link = classify(url)
    if link.local:
        _check_local(settings, link)
    if dest is not None and (not isinstance(dest, str) or dest.startswith("/")):
        raise InvalidArgument("dest", "must be a directory relative to the download root")
    target = inside(settings.download_dir, dest or ".")
    if filename is not None and (not isinstance(filename, str) or safe_name(filename) != filename):
        raise InvalidArgument("filename", f"{filename!r} is not a plain file name")
    if not isinstance(client, str) or not client:
        raise InvalidArgument("client", "must be a client name or 'auto'")
    if sha256 is not None and (not isinstance(sha256, str) or not _SHA256.match(sha256)):
        raise InvalidArgument("sha256", "must be 64 hexadecimal characters")
    if max_bytes is not None and not _positive_int(max_bytes):
        raise InvalidArgument("max_bytes", "must be a positive whole number of bytes")
    others = validate_mirrors(mirrors, link, lambda m: _check_local(settings, m))
    digest = sha256.lower() if sha256 else None
    return Request(link, target, filename, client, digest, max_bytes, others)


def _positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _check_local(settings: Settings, link: Link) -> None:
    """A local .torrent/.nzb must be an existing file under an allowed input root."""
    roots = settings.downloads.input_roots or (settings.data_dir.resolve(),)
    file_under_roots(link.url, roots, "HAULER_DOWNLOADS_INPUT_ROOTS", argument="url")


def will_retry(exc: BaseException) -> bool:
    """Without a task to ask: a retryable error is retried (the partial is worth keeping)."""
    return isinstance(exc, RetryableError)


def choose(
    settings: Settings,
    request: Request,
    clients: list[DownloadClient] | None = None,
) -> tuple[DownloadClient, str, Link]:
    """The client for ``request``, why, and the link to give it (a URL another program will
    fetch has its redirects followed and checked here first)."""
    store = broker.shared(settings.broker_url)
    clients = clients if clients is not None else configured_clients(settings)
    chosen, reason = selection.choose(request.link, clients, request.client, store)
    link = request.link
    if _fetched_by_peer(link, chosen):
        downloads = settings.downloads
        link = replace(
            link, url=final_url(link.url, downloads.allow_networks, downloads.http_timeout)
        )
    return chosen, reason, link


def job_for(settings: Settings, request: Request, link: Link, task_id: str) -> Job:
    """The job a client is given for task ``task_id``: its own staging directory and tag."""
    workdir = settings.staging_dir / safe_name(task_id)
    workdir.mkdir(parents=True, exist_ok=True)
    return Job(
        link,
        workdir,
        tag=tag_for(task_id),
        max_bytes=request.max_bytes,
        filename=request.filename,
    )


def tag_for(task_id: str) -> str:
    """The label a client carries for task ``task_id``'s job."""
    return f"hauler-{task_id}"


def fetch(
    settings: Settings,
    request: Request,
    *,
    task_id: str,
    progress: ProgressFn,
    clients: list[DownloadClient] | None = None,
    on_choice: Callable[[str, str], None] | None = None,
    retried: Callable[[BaseException], bool] = will_retry,
) -> dict[str, Any]:
    """Download ``request`` in this thread and return where it landed.

    The job's staging directory (``HAULER_STAGING_DIR/<task id>``) goes when the download
    is placed, and when it fails for good; it stays, with any partial file for resume,
    when ``retried(exc)`` says the failure will be tried again. An external client is
    followed to the end here (``download``); ``downloads.fetch`` hands those off instead.

    Returns:
        ``{"download_id", "path", "bytes", "sha256", "client", "reason", "seconds"}``.
    """
    started = time.monotonic()
    chosen, reason, link = choose(settings, request, clients)
    if on_choice:
        on_choice(chosen.name, reason)
    return stream(settings, request, chosen, reason, link, task_id, progress, retried, started)


def stream(
    settings: Settings,
    request: Request,
    chosen: DownloadClient,
    reason: str,
    link: Link,
    task_id: str,
    progress: ProgressFn,
    retried: Callable[[BaseException], bool] = will_retry,
    started: float | None = None,
) -> dict[str, Any]:
    """Download through ``chosen`` in this thread, verify, place and record (see ``fetch``)."""
    started = time.monotonic() if started is None else started
    store = broker.shared(settings.broker_url)
    job = job_for(settings, request, link, task_id)
    try:
        with selection.track(store, chosen.name):
            finished = cast(StreamingClient, chosen).download(job, progress)
        digest = verify(finished, request)
        final = place(finished.path, request.dest, digest)
    except Exception as exc:
        if not retried(exc):
            shutil.rmtree(job.workdir, ignore_errors=True)
        raise
    shutil.rmtree(job.workdir, ignore_errors=True)
    seconds = round(time.monotonic() - started, 3)
    row = download_row(task_id, request.link.shown, chosen.name, reason, final, digest, seconds)
    return result_of(row, record(settings, row))


def download_row(
    task_id: str, shown: str, client: str, reason: str, final: Path, digest: str, seconds: float
) -> Download:
    """The ``downloads`` row of a placed download."""
    return Download(
        task_id=task_id,
        url=shown,
        client=client,
        reason=reason,
        path=str(final),
        bytes=size_of(final),
        sha256=digest,
        seconds=seconds,
        finished_at=datetime.now(UTC),
    )


def result_of(row: Download, download_id: int) -> dict[str, Any]:
    """The task's result dict, the same whichever client downloaded."""
    return {
        "download_id": download_id,
        "path": row.path,
        "bytes": row.bytes,
        "sha256": row.sha256,
        "client": row.client,
        "reason": row.reason,
        "seconds": row.seconds,
    }


def _fetched_by_peer(link: Link, client: DownloadClient) -> bool:
    """A URL another program will fetch: its redirects are followed and checked here first
    (the in-process HTTP client checks every hop itself; magnets have no URL to fetch)."""
    return not link.local and link.kind is not LinkKind.MAGNET and client.name != "http"


def verify(finished: Finished, request: Request) -> str:
    """The result's sha256, once its size and checksum are what the caller asked for.

    Raises:
        TooLarge: more than ``max_bytes`` (a client that learns the size only at the end).
        ChecksumMismatch: not the ``sha256`` asked for.
    """
    size = size_of(finished.path)
    if request.max_bytes is not None and size > request.max_bytes:
        _remove(finished.path)
        raise TooLarge(
            f"{request.link.shown} gave {size} bytes, more than max_bytes={request.max_bytes}"
        )
    if finished.path.is_dir():
        digest = _tree_digest(finished.path)
    else:
        digest = finished.sha256 or file_sha256(finished.path)
    if request.sha256 and digest != request.sha256:
        _remove(finished.path)
        raise ChecksumMismatch(f"sha256 is {digest}, expected {request.sha256}")
    return digest


def place(source: Path, dest_dir: Path, digest: str) -> Path:
    """Move ``source`` into ``dest_dir`` atomically, never overwriting a different file.

    The result gets the default modes (files 0644, directories 0755 under umask 022),
    whichever client wrote it.
    """
    dest_dir.mkdir(parents=True, exist_ok=True)
    modes.normalise(source)
    target = dest_dir / source.name
    counter = 1
    while target.exists():
        if target.is_file() and source.is_file() and file_sha256(target) == digest:
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


def record(settings: Settings, row: Download) -> int:
    """Store the ``downloads`` row; its id."""
    with session_scope(settings.database_url) as session:
        session.add(row)
        session.flush()
        return row.id


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _tree_digest(root: Path) -> str:
    digest = hashlib.sha256()
    for file in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(str(file.relative_to(root)).encode() + b"\0" + file_sha256(file).encode())
    return digest.hexdigest()


def size_of(path: Path) -> int:
    """Bytes of a file, or of every file under a directory."""
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size
