"""The upload destination Protocol and the types every destination shares."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from hauler.progress import ProgressFn

CHUNK = 1024 * 1024  # bytes read from disk at a time
SHA256_HEADER = "X-Checksum-Sha256"  # the file's sha256 (hex) travels in this HTTP header
SHA256_METADATA = "sha256"  # ... and in this S3 object metadata key (x-amz-meta-sha256)


@dataclass(frozen=True)
class Upload:
    """One file to send, described before sending, and where to send it."""

    path: Path  # the local file (absolute, resolved)
    url: str  # the destination as the caller gave it, already validated
    size: int  # bytes, measured before sending
    sha256: str  # hex digest, measured before sending
    content_type: str  # guessed from the file name
    key: str | None = None  # idempotency key (the task id); the same across retries


@dataclass(frozen=True)
class Sent:
    """What a destination confirmed after an upload."""

    url: str  # the final URL (a file:// or s3:// URL naming the file itself)
    bytes: int  # bytes the destination holds
    etag: str | None = None  # the peer's entity tag, when it gave one
    skipped: bool = False  # the same bytes were already there: nothing was sent


class UploadDestination(Protocol):
    """A kind of place files go: a directory, an HTTP(S) endpoint or an S3 bucket."""

    schemes: tuple[str, ...]

    def validate(self, url: str) -> None:
        """Check ``url`` without any I/O to the peer.

        Raises:
            InvalidArgument: named 'destination', when the URL is malformed or not allowed.
        """
        ...

    def send(self, upload: Upload, progress: ProgressFn) -> Sent:
        """Send ``upload``, reporting progress; return only once the peer holds the bytes.

        Sending the same upload again (a redelivered task) must do no harm.

        Raises:
            PermanentError: the destination refuses for good (403, missing bucket, a
                different file under the name).
            RetryableError: try again later (unreachable peer, 5xx, throttling, timeouts).
        """
        ...
