"""The in-process HTTP(S) client: streamed, resumable, verified, SSRF-guarded.

A job's partial file lives in its work directory as ``<name>.part`` next to
``<name>.part.json`` (URL, validators, expected size). A retry or a new worker resumes
it with ``Range`` and ``If-Range``; a server that ignores them (200) restarts from zero.
"""

from __future__ import annotations

import errno
import hashlib
import http.client
import json
import os
import re
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast
from urllib.parse import urljoin

import requests

from hauler.downloads.clients.base import Affinity, Finished, Job
from hauler.downloads.links import Link, LinkKind
from hauler.downloads.modes import FILE_MODE
from hauler.downloads.safety import check_address, name_from_url, safe_name
from hauler.downloads.stream import CHUNK, ReadInto, copy_hashing
from hauler.errors import DiskFull, PermanentError, RetryableError, TooLarge
from hauler.httpstatus import request_error, status_error
from hauler.paths import sha256_of
from hauler.progress import Meter, ProgressFn
from hauler.redact import redact_text, redact_url

MAX_REDIRECTS = 5
#: What a transfer that broke half-way raises; the partial file is kept for resume.
BROKEN = (
    http.client.HTTPException,
    requests.exceptions.RequestException,
    ConnectionError,
    TimeoutError,
)
_FILENAME_STAR = re.compile(r"filename\*\s*=\s*[^']*'[^']*'([^;]+)", re.IGNORECASE)
_FILENAME = re.compile(r'filename\s*=\s*"?([^";]+)"?', re.IGNORECASE)


class HttpClient:
    """Downloads direct http/https links with ``requests``."""

    name = "http"

    def __init__(self, allow: Sequence[str] = (), timeout: float = 30.0) -> None:
        self.allow = tuple(allow)
        self.timeout = timeout
        self.session = requests.Session()
        self.session.headers["User-Agent"] = "hauler/0.1"
        self.session.headers["Accept-Encoding"] = "identity"  # the bytes as stored, resumable

    def affinity(self, link: Link) -> Affinity:
        if link.kind is LinkKind.DIRECT and link.url.lower().startswith(("http://", "https://")):
            return Affinity.SPECIALIST
        return Affinity.INCOMPATIBLE

    def healthy(self) -> bool:
        return True

    def download(self, job: Job, progress: ProgressFn) -> Finished:
        response, url = self._open(job.link.url, job.workdir)
        with response:
            name = job.filename or _disposition_name(response) or name_from_url(url)
            partial = job.workdir / f"{name}.part"
            if response.status_code == 416:
                return _finish_complete_partial(partial, url)
            offset = self._resume_offset(response, partial)
            total = _total(response, offset)
            if job.max_bytes is not None and total is not None and total > job.max_bytes:
                raise TooLarge(
                    f"{redact_url(url)} is {total} bytes, more than max_bytes={job.max_bytes}"
                )
            _check_room(job.workdir, (total or 0) - offset, url)
            state = {
                "url": redact_url(url),  # the sidecar never holds a password
                "etag": response.headers.get("ETag"),
                "last_modified": response.headers.get("Last-Modified"),
                "total": total,
                "name": name,
            }
            _save_state(partial, state)
            digest = sha256_of(partial) if offset else hashlib.sha256()
            done = self._stream(response, partial, offset, digest, job, total, progress)
        if total is not None and done != total:
            raise RetryableError(f"{redact_url(url)}: got {done} of {total} bytes; will resume")
        final = job.workdir / name
        partial.replace(final)
        partial.with_suffix(".part.json").unlink(missing_ok=True)
        return Finished(path=final, bytes=done, sha256=digest.hexdigest())

    def _open(self, url: str, workdir: Path) -> tuple[requests.Response, str]:
        """GET ``url`` (checking every redirect hop), resuming a partial file if any."""
        headers = self._resume_headers(workdir, url)
        for _ in range(MAX_REDIRECTS + 1):
            check_address(url, self.allow)
            try:
                response = self.session.get(
                    url, headers=headers, stream=True, timeout=self.timeout, allow_redirects=False
                )
            except requests.exceptions.RequestException as exc:
                text = redact_text(f"{url}: {exc.__class__.__name__}: {exc}")
                raise request_error(exc, text) from None
            if response.is_redirect:
                response.close()
                url = urljoin(url, response.headers["Location"])
                continue
            _raise_for_status(response, url)
            return response, url
        raise PermanentError(f"{redact_url(url)}: more than {MAX_REDIRECTS} redirects")

    def _resume_headers(self, workdir: Path, url: str) -> dict[str, str]:
        for sidecar in workdir.glob("*.part.json"):
            state = json.loads(sidecar.read_text())
            partial = sidecar.with_name(sidecar.name.removesuffix(".json"))
            if state.get("url") != redact_url(url) or not partial.exists():
                continue
            validator = state.get("etag") or state.get("last_modified")
            headers = {"Range": f"bytes={partial.stat().st_size}-"}
            if validator:
                headers["If-Range"] = validator
            return headers
        return {}

    @staticmethod
    def _resume_offset(response: requests.Response, partial: Path) -> int:
        if response.status_code == 206 and partial.exists():
            return partial.stat().st_size
        partial.unlink(missing_ok=True)  # the server sent the whole file again
        return 0

    @staticmethod
    def _stream(
        response: requests.Response,
        partial: Path,
        offset: int,
        digest: Any,
        job: Job,
        total: int | None,
        progress: ProgressFn,
    ) -> int:
        meter = Meter(total, progress, every=0.5, start=offset)
        limit = job.max_bytes

        def on_chunk(copied: int) -> None:
            meter.at(offset + copied)
            if limit is not None and meter.done > limit:
                partial.unlink(missing_ok=True)
                raise TooLarge(f"{job.link.shown} passed max_bytes={limit} while streaming")

        flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if offset else os.O_TRUNC)
        fd = os.open(partial, flags, FILE_MODE)
        try:
            copy_hashing(_body(response), fd, digest, on_chunk)
        except BROKEN as exc:
            raise RetryableError(
                f"{job.link.shown}: transfer broke after {meter.done} bytes "
                f"({exc.__class__.__name__}); the partial file is kept for resume"
            ) from None
        except OSError as exc:
            if exc.errno == errno.ENOSPC:
                raise DiskFull(
                    f"disk full while writing {partial} ({meter.done} bytes kept for resume)"
                ) from None
            raise
        finally:
            os.close(fd)
        meter.finish()
        return meter.done


class _Chunks:
    """``readinto`` over ``iter_content``, for bodies urllib3 must decode."""

    def __init__(self, response: requests.Response) -> None:
        self.chunks = response.iter_content(chunk_size=CHUNK)
        self.pending = b""

    def readinto(self, buffer: Any) -> int:
        if not self.pending:
            self.pending = next(self.chunks, b"")
        size = min(len(buffer), len(self.pending))
        buffer[:size] = self.pending[:size]
        self.pending = self.pending[size:]
        return size


def _body(response: requests.Response) -> ReadInto:
    """The fastest reader of the body: the raw socket file when no decoding is needed."""
    raw = getattr(response.raw, "_fp", None)
    encoding = response.headers.get("Content-Encoding", "identity").lower()
    if raw is not None and hasattr(raw, "readinto") and encoding == "identity":
        return cast(ReadInto, raw)
    return _Chunks(response)


def _check_room(workdir: Path, needed: int, url: str) -> None:
    """Fail before the transfer, not half-way, when the staging disk cannot hold it."""
    free = shutil.disk_usage(workdir).free
    if needed > free:
        raise DiskFull(
            f"{redact_url(url)} needs {needed} more bytes "
            f"but the staging disk ({workdir}) has {free} free"
        )


def _raise_for_status(response: requests.Response, url: str) -> None:
    status = response.status_code
    if status < 400 or status == 416:
        return
    response.close()
    error = status_error(status, f"{redact_url(url)}: HTTP {status} {response.reason}")
    if error is not None:
        raise error


def _total(response: requests.Response, offset: int) -> int | None:
    content_range = response.headers.get("Content-Range", "")
    if response.status_code == 206 and "/" in content_range:
        size = content_range.rsplit("/", 1)[1]
        return int(size) if size.isdigit() else None
    length = response.headers.get("Content-Length")
    return int(length) + offset if length and length.isdigit() else None


def _disposition_name(response: requests.Response) -> str | None:
    header = response.headers.get("Content-Disposition", "")
    match = _FILENAME_STAR.search(header) or _FILENAME.search(header)
    return safe_name(match.group(1)) if match else None


def _finish_complete_partial(partial: Path, url: str) -> Finished:
    """416 to a resume request: the partial may already be the whole file."""
    sidecar = partial.with_suffix(".part.json")
    state = json.loads(sidecar.read_text()) if sidecar.exists() else {}
    if partial.exists() and state.get("total") == partial.stat().st_size:
        digest = sha256_of(partial)
        final = partial.with_suffix("")
        partial.replace(final)
        sidecar.unlink(missing_ok=True)
        return Finished(path=final, bytes=final.stat().st_size, sha256=digest.hexdigest())
    partial.unlink(missing_ok=True)
    sidecar.unlink(missing_ok=True)
    raise RetryableError(f"{redact_url(url)}: range not satisfiable; restarting from zero")


def _save_state(partial: Path, state: dict[str, Any]) -> None:
    partial.with_suffix(".part.json").write_text(json.dumps(state))
