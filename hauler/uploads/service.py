"""``uploads.push`` as a plain function: check the arguments, describe the file, send, verify."""

from __future__ import annotations

import logging
import mimetypes
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from hauler.errors import InvalidArgument, RetryableError, Unsupported
from hauler.paths import file_sha256, file_under_roots
from hauler.progress import ProgressFn
from hauler.redact import redact_text
from hauler.settings import Settings
from hauler.uploads import receipts
from hauler.uploads.base import Sent, Upload, UploadDestination
from hauler.uploads.file import FileDestination
from hauler.uploads.http import METHODS, HttpDestination
from hauler.uploads.s3 import S3Destination

log = logging.getLogger(__name__)

SCHEMES = ("file", "http", "https", "s3")
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://\S+$")


@dataclass(frozen=True)
class Request:
    """The checked arguments of one upload."""

    path: Path  # absolute, resolved, an existing regular file under an allowed root
    destination: str
    delete_after: bool
    method: str  # PUT or POST (POST only for http/https)


def push(
    settings: Settings,
    path: Any,
    destination: Any,
    *,
    delete_after: Any = False,
    method: Any = "PUT",
    task_id: str | None = None,
    progress: ProgressFn = lambda _: None,
) -> dict[str, Any]:
    """Send the file at ``path`` to ``destination``: the body of ``uploads.push``.

    A task id that already has a receipt (a redelivered message) gets the first run's
    result without sending again.

    Returns:
        ``{"destination", "bytes", "sha256", "seconds", "etag", "skipped", "deleted"}``.
    """
    if task_id:
        done = receipts.find(settings.broker_url, task_id, path, destination)
        if done is not None:
            return done
    request = validate(settings, path, destination, delete_after, method)
    result = send(settings, request, key=task_id, progress=progress)
    result["deleted"] = request.delete_after
    _remember(settings, task_id, path, destination, result)  # before the file goes
    if request.delete_after and not _delete(request.path):
        result["deleted"] = False
        _remember(settings, task_id, path, destination, result)
    return result


def validate(
    settings: Settings, path: Any, destination: Any, delete_after: Any, method: Any
) -> Request:
    """Check every argument; the error names the one that is wrong.

    Raises:
        InvalidArgument: 'path', 'destination', 'delete_after' or 'method' is wrong.
        Unsupported: the destination's scheme is not file, http, https or s3.
    """
    url = _destination(destination)
    if not isinstance(delete_after, bool):
        raise InvalidArgument("delete_after", f"must be true or false, got {delete_after!r}")
    if not isinstance(method, str) or method.upper() not in METHODS:
        raise InvalidArgument("method", f"must be one of {', '.join(METHODS)}, got {method!r}")
    verb = method.upper()
    destination_for(settings, url, verb).validate(url)
    return Request(source_path(settings, path), url, delete_after, verb)


def send(
    settings: Settings, request: Request, *, key: str | None, progress: ProgressFn
) -> dict[str, Any]:
    """Describe the file (size, sha256, type), send it, and check nothing changed meanwhile."""
    started = time.monotonic()
    before = request.path.stat()
    upload = Upload(
        path=request.path,
        url=request.destination,
        size=before.st_size,
        sha256=file_sha256(request.path),
        content_type=content_type(request.path),
        key=key,
    )
    sent = destination_for(settings, request.destination, request.method).send(upload, progress)
    _check_unchanged(upload, before, sent)
    return {
        "destination": sent.url,
        "bytes": sent.bytes,
        "sha256": upload.sha256,
        "seconds": round(time.monotonic() - started, 3),
        "etag": sent.etag,
        "skipped": sent.skipped,
        "deleted": False,
    }


def destination_for(settings: Settings, url: str, method: str) -> UploadDestination:
    """The destination that handles ``url``'s scheme.

    Raises:
        Unsupported: no destination handles the scheme.
        InvalidArgument: 'method' is POST for a destination that is not http(s).
    """
    scheme = urlsplit(url).scheme.lower()
    if scheme not in SCHEMES:
        raise Unsupported(f"uploads to {scheme}:// are not supported (use {', '.join(SCHEMES)})")
    config = settings.uploads
    if scheme in ("http", "https"):
        return HttpDestination(method, config.allow_networks, config.http_timeout)
    if method != "PUT":
        raise InvalidArgument("method", f"{method} applies to http(s) destinations only")
    if scheme == "file":
        return FileDestination(config.file_roots or (settings.data_dir,))
    return S3Destination(config)


def source_path(settings: Settings, value: Any) -> Path:
    """An existing regular file under an allowed root (HAULER_UPLOADS_ROOTS)."""
    roots = settings.uploads.roots or (settings.data_dir.resolve(), settings.download_dir.resolve())
    return file_under_roots(value, roots, "HAULER_UPLOADS_ROOTS")


def content_type(path: Path) -> str:
    """The media type the file name suggests, else ``application/octet-stream``."""
    return mimetypes.guess_type(path.name)[0] or "application/octet-stream"


def _destination(value: Any) -> str:
    if not isinstance(value, str) or not _URL.match(value):
        raise InvalidArgument(
            "destination",
            f"must be a URL such as file:///dir/, https://host/path or s3://bucket/key, "
            f"got {redact_text(repr(value))}",
        )
    return value


def _check_unchanged(upload: Upload, before: os.stat_result, sent: Sent) -> None:
    after = upload.path.stat()
    same = (after.st_size, after.st_mtime_ns, after.st_ino) == (
        before.st_size,
        before.st_mtime_ns,
        before.st_ino,
    )
    if not same or sent.bytes != upload.size:
        raise RetryableError(f"{upload.path} changed while it was uploaded; will upload again")


def _remember(
    settings: Settings, task_id: str | None, path: str, destination: str, result: dict[str, Any]
) -> None:
    if task_id:
        receipts.keep(
            settings.broker_url, task_id, path, destination, result, settings.result_expires
        )


def _delete(path: Path) -> bool:
    """Remove the uploaded file; a failure is logged, not raised (the upload stands)."""
    try:
        path.unlink(missing_ok=True)
    except OSError as exc:
        log.warning("uploaded %s but could not delete it: %s", path, exc)
        return False
    return True
