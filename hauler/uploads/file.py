"""``file://`` destinations: an atomic copy into a directory, never over a different file.

The bytes go to a hidden temporary name in the target directory, are fsynced, then
hard-linked under the final name (which fails if the name exists, so a file that
appeared meanwhile is never replaced) and the directory is fsynced. A reader never
sees a half file under the final name.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import secrets
from collections.abc import Iterator, Sequence
from pathlib import Path
from urllib.parse import unquote, urlsplit

from hauler.errors import InvalidArgument, PermanentError, RetryableError
from hauler.paths import file_sha256
from hauler.progress import Meter, ProgressFn
from hauler.redact import redact_url
from hauler.uploads.base import CHUNK, Sent, Upload

_TRANSIENT = (errno.ENOSPC, errno.EDQUOT)  # a fuller disk may have room later
_REFUSED = (errno.EACCES, errno.EPERM, errno.EROFS)  # a permission will not appear by itself


class DestinationExists(PermanentError):
    """Raised when a different file already has the destination's name; it is kept as it is."""


class FileDestination:
    """Copies into a local (or mounted) directory under one of ``roots``."""

    schemes: tuple[str, ...] = ("file",)

    def __init__(self, roots: Sequence[Path]) -> None:
        self.roots = tuple(root.resolve() for root in roots)

    def validate(self, url: str) -> None:
        self.target(url, "upload")

    def target(self, url: str, name: str) -> Path:
        """The file ``url`` names; ``name`` is used when the URL names a directory.

        A URL ending in ``/``, or naming an existing directory, is a directory: the file
        keeps its own name there. Otherwise the last segment is the new file's name.
        """
        parts = urlsplit(url)
        if parts.netloc not in ("", "localhost") or parts.query or parts.fragment:
            raise InvalidArgument(
                "destination", f"{redact_url(url)!r} is not file:///absolute/path"
            )
        raw = unquote(parts.path)
        if not raw.startswith("/") or "\0" in raw:
            raise InvalidArgument(
                "destination", f"{redact_url(url)!r} is not file:///absolute/path"
            )
        path = Path(raw)
        if raw.endswith("/") or path.is_dir():
            directory, filename = path, name
        else:
            directory, filename = path.parent, path.name
        if filename in ("", ".", ".."):
            raise InvalidArgument("destination", f"{redact_url(url)!r} does not name a file")
        directory = directory.resolve()
        if not any(directory.is_relative_to(root) for root in self.roots):
            allowed = ", ".join(str(root) for root in self.roots)
            raise InvalidArgument(
                "destination",
                f"{directory} is outside the allowed roots ({allowed}; HAULER_UPLOADS_FILE_ROOTS)",
            )
        return directory / filename

    def send(self, upload: Upload, progress: ProgressFn) -> Sent:
        target = self.target(upload.url, upload.path.name)
        with _os_errors(target):
            if _same_file_there(target, upload):
                return Sent(target.as_uri(), upload.size, skipped=True)
            target.parent.mkdir(parents=True, exist_ok=True)
            temporary = _copy(upload, target, Meter(upload.size, progress))
            try:
                skipped = _publish(temporary, target, upload)
            finally:
                temporary.unlink(missing_ok=True)
            _fsync_directory(target.parent)
        return Sent(target.as_uri(), upload.size, skipped=skipped)


def _same_file_there(target: Path, upload: Upload) -> bool:
    """True when ``target`` holds the upload's bytes; False when nothing is there.

    Raises:
        DestinationExists: something else is there.
    """
    if not target.exists() and not target.is_symlink():
        return False
    same_size = target.is_file() and target.stat().st_size == upload.size
    if same_size and file_sha256(target) == upload.sha256:
        return True
    raise DestinationExists(
        f"{target} already exists with other content; it is not overwritten "
        "(choose another name, or remove it first)"
    )


def _copy(upload: Upload, target: Path, meter: Meter) -> Path:
    """Copy the upload to a new hidden file beside ``target``, fsynced, checked; its path."""
    temporary = target.with_name(f".{target.name[:200]}.{secrets.token_hex(6)}.upload")
    digest = hashlib.sha256()
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(descriptor, "wb") as out, upload.path.open("rb") as source:
            while chunk := source.read(CHUNK):
                out.write(chunk)
                digest.update(chunk)
                meter.add(len(chunk))
            out.flush()
            os.fsync(out.fileno())
        if meter.done != upload.size or digest.hexdigest() != upload.sha256:
            raise RetryableError(f"{upload.path} changed while it was copied; will copy again")
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    meter.finish()
    return temporary


def _publish(temporary: Path, target: Path, upload: Upload) -> bool:
    """Give ``temporary`` the final name unless it exists; True if the same bytes were there."""
    try:
        os.link(temporary, target)
    except FileExistsError:  # another writer got there first
        return _same_file_there(target, upload)
    except OSError:  # a file system without hard links: check, then rename
        if _same_file_there(target, upload):
            return True
        os.replace(temporary, target)
    return False


def _fsync_directory(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


@contextlib.contextmanager
def _os_errors(target: Path) -> Iterator[None]:
    """Disk full → retryable; no permission or a read-only file system → permanent."""
    try:
        yield
    except OSError as exc:
        if exc.errno in _TRANSIENT:
            raise RetryableError(f"{target}: {exc.strerror}; will try again") from None
        if exc.errno in _REFUSED:
            raise PermanentError(f"{target}: {exc.strerror}") from None
        raise
