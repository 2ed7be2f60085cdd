"""``http://`` and ``https://`` destinations: a streamed PUT or multipart POST, SSRF-guarded.

The body is read from disk as it is sent (never held in memory), with a
``Content-Length``, a ``Content-Type`` and the file's sha256 in ``X-Checksum-Sha256``.
The task id travels as ``Idempotency-Key``, the same on every retry. Redirects are
not followed.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Sequence
from typing import BinaryIO
from urllib.parse import urlsplit

import requests

from hauler.downloads.safety import check_address
from hauler.errors import HaulerError, InvalidArgument, PermanentError, RetryableError
from hauler.httpstatus import request_error, retryable_status
from hauler.progress import Meter, ProgressFn
from hauler.redact import redact_url
from hauler.uploads.base import SHA256_HEADER, Sent, Upload

FIELD = "file"  # the multipart field that carries the file in a POST
METHODS = ("PUT", "POST")
_HOST = re.compile(r"[\w.:-]+")  # a name, an IPv4 address or a bracket-less IPv6 address


class HttpDestination:
    """Sends files to HTTP(S) URLs with ``requests``, streamed from disk."""

    schemes: tuple[str, ...] = ("http", "https")

    def __init__(self, method: str = "PUT", allow: Sequence[str] = (), timeout: float = 30.0):
        if method not in METHODS:
            raise InvalidArgument("method", f"must be one of {', '.join(METHODS)}, got {method!r}")
        self.method = method
        self.allow = tuple(allow)
        self.timeout = timeout
        self.session = requests.Session()
        self.session.headers["User-Agent"] = "hauler/0.1"

    def validate(self, url: str) -> None:
        parts = urlsplit(url)
        host = parts.hostname or ""
        if parts.scheme.lower() not in self.schemes or not _HOST.fullmatch(host):
            raise InvalidArgument(
                "destination", f"{redact_url(url)!r} is not an http(s) URL with a host"
            )
        try:
            parts.port  # noqa: B018 - raises ValueError for a bad port
        except ValueError:
            raise InvalidArgument("destination", f"{redact_url(url)!r} has a bad port") from None

    def send(self, upload: Upload, progress: ProgressFn) -> Sent:
        self.validate(upload.url)
        _guard(upload.url, self.allow)
        meter = Meter(upload.size, progress)
        body = self._body(upload, meter)
        headers = {
            "Content-Type": body.content_type,
            "Content-Length": str(len(body)),
            SHA256_HEADER: upload.sha256,
        }
        if upload.key:
            headers["Idempotency-Key"] = upload.key
        with body:
            response = self._request(upload.url, body, headers)
        with response:
            error = status_error(response.status_code, redact_url(upload.url), response.reason)
            if error:
                raise error
        if body.sent != upload.size or body.digest.hexdigest() != upload.sha256:
            raise RetryableError(f"{upload.path} changed while it was sent; will send again")
        meter.finish()
        return Sent(redact_url(upload.url), upload.size, etag=response.headers.get("ETag"))

    def _body(self, upload: Upload, meter: Meter) -> StreamedBody:
        if self.method == "PUT":
            return StreamedBody(upload, meter, content_type=upload.content_type)
        boundary = f"hauler-{secrets.token_hex(16)}"
        head, tail = multipart_frame(FIELD, upload.path.name, upload.content_type, boundary)
        content_type = f"multipart/form-data; boundary={boundary}"
        return StreamedBody(upload, meter, content_type=content_type, head=head, tail=tail)

    def _request(self, url: str, body: StreamedBody, headers: dict[str, str]) -> requests.Response:
        """Send the request; the answer's body is never read (``stream=True``)."""
        try:
            return self.session.request(
                self.method,
                url,
                data=body,
                headers=headers,
                allow_redirects=False,
                stream=True,
                timeout=(self.timeout, self.timeout),
            )
        except requests.exceptions.RequestException as exc:
            text = f"{redact_url(url)}: {exc.__class__.__name__}: {exc}"
            raise request_error(exc, text) from None


class StreamedBody:
    """A request body read on demand: ``head``, the file from disk, then ``tail``.

    It hashes and counts the file's bytes as they go out, so the sender can tell that
    what left is what was described.
    """

    def __init__(
        self,
        upload: Upload,
        meter: Meter,
        *,
        content_type: str,
        head: bytes = b"",
        tail: bytes = b"",
    ) -> None:
        self.content_type = content_type
        self.meter = meter
        self.digest = hashlib.sha256()
        self.sent = 0
        self._length = len(head) + upload.size + len(tail)
        self._file: BinaryIO = upload.path.open("rb")
        self._head = head
        self._tail = tail

    def __len__(self) -> int:
        return self._length

    def read(self, amount: int = -1) -> bytes:
        if self._head:
            piece, self._head = _split(self._head, amount)
            return piece
        chunk = self._file.read(amount)
        if chunk:
            self.digest.update(chunk)
            self.sent += len(chunk)
            self.meter.add(len(chunk))
            return chunk
        piece, self._tail = _split(self._tail, amount)
        return piece

    def __enter__(self) -> StreamedBody:
        return self

    def __exit__(self, *exc: object) -> None:
        self._file.close()


def _split(data: bytes, amount: int) -> tuple[bytes, bytes]:
    if amount is None or amount < 0:
        return data, b""
    return data[:amount], data[amount:]


def multipart_frame(
    field: str, filename: str, content_type: str, boundary: str
) -> tuple[bytes, bytes]:
    """The bytes before and after a file's content in a one-part ``multipart/form-data`` body.

    The file name is UTF-8 with ``"``, CR and LF percent-encoded, as browsers send it.
    """
    quoted = filename.replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")
    head = (
        f"--{boundary}\r\n"
        f'Content-Disposition: form-data; name="{field}"; filename="{quoted}"\r\n'
        f"Content-Type: {content_type}\r\n\r\n"
    ).encode()
    return head, f"\r\n--{boundary}--\r\n".encode()


def status_error(status: int, url: str, reason: str) -> HaulerError | None:
    """What an HTTP status means for an upload: None (2xx), retryable or permanent."""
    if 200 <= status < 300:
        return None
    if retryable_status(status):
        return RetryableError(f"{url}: HTTP {status} {reason}; will try again")
    if 300 <= status < 400:
        return PermanentError(f"{url}: HTTP {status} {reason}; uploads do not follow redirects")
    return PermanentError(f"{url}: HTTP {status} {reason}")


def _guard(url: str, allow: Sequence[str]) -> None:
    """Refuse hosts that resolve to non-public addresses unless allow-listed (SSRF)."""
    check_address(
        url, allow, who="uploads", setting="HAULER_UPLOADS_ALLOW_NETWORKS", argument="destination"
    )
