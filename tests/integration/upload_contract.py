"""The contract every upload destination keeps, as a test class each destination subclasses.

A subclass provides these fixtures and inherits every test:

- ``destination``: the destination under test, talking to its real peer;
- ``target``: ``target(name) -> url``, a fresh destination URL for a file called ``name``;
- ``landed``: ``landed(url) -> Landed``, what the peer holds at the final URL ``url``
  (the URL a send returned): its bytes and the sha256 it was told, if it keeps one;
- ``refused_target``: a URL the peer refuses for good (HTTP 403, a missing bucket, a
  different file already under the name);
- ``down_destination`` and ``down_target``: the same kind of destination where the
  upload cannot succeed *now* — a peer where nothing listens, or for file:// a full
  disk — and a URL to give it.

Modelled on huey's storage tests: one suite, run against every implementation.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from hauler.errors import InvalidArgument, PermanentError, RetryableError
from hauler.progress import Progress
from hauler.uploads.base import Upload, UploadDestination
from hauler.uploads.service import content_type


@dataclass(frozen=True)
class Landed:
    """What a peer holds after an upload."""

    body: bytes
    sha256: str | None  # the checksum the peer was told (header, metadata); None if none


def upload_of(path: Path, url: str, key: str | None = None) -> Upload:
    """An Upload of ``path`` to ``url``, described as the service describes it."""
    data = path.read_bytes()
    return Upload(
        path=path,
        url=url,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        content_type=content_type(path),
        key=key,
    )


def a_file(directory: Path, name: str, body: bytes) -> Path:
    """A local file called ``name`` holding ``body``."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_bytes(body)
    return path


class UploadDestinationContract:
    """Inherit this; provide ``destination``, ``target``, ``landed``, ``refused_target``,
    ``down_destination`` and ``down_target``."""

    body_size = 2 * 1024 * 1024 + 13

    def test_sends_the_exact_bytes_with_their_checksum_and_reports_progress(
        self, destination: UploadDestination, target, landed, tmp_path: Path
    ) -> None:
        # given a local file of a little over 2 MiB
        body = os.urandom(self.body_size)
        source = a_file(tmp_path / "src", "contract.bin", body)
        seen: list[Progress] = []
        # when the destination sends it
        sent = destination.send(upload_of(source, target("contract.bin")), seen.append)
        # then the peer holds the very bytes under the returned URL, and knows their sha256
        held = landed(sent.url)
        assert hashlib.sha256(held.body).digest() == hashlib.sha256(body).digest()
        assert held.sha256 in (None, hashlib.sha256(body).hexdigest())
        assert (sent.bytes, sent.skipped) == (len(body), False)
        # and progress was reported, ending at the whole size
        assert seen, "no progress was reported"
        assert (seen[-1].done, seen[-1].total) == (len(body), len(body))
        # and the local file is untouched
        assert source.read_bytes() == body

    def test_sending_the_same_upload_again_does_no_harm(
        self, destination: UploadDestination, target, landed, tmp_path: Path
    ) -> None:
        # given an upload that already went through (a redelivered task runs it again)
        body = os.urandom(64 * 1024)
        upload = upload_of(a_file(tmp_path / "src", "again.bin", body), target("again.bin"))
        first = destination.send(upload, lambda _: None)
        # when it is sent again
        second = destination.send(upload, lambda _: None)
        # then it lands at the same URL with the same bytes
        assert second.url == first.url
        assert landed(second.url).body == body

    def test_an_empty_file_is_uploaded_too(
        self, destination: UploadDestination, target, landed, tmp_path: Path
    ) -> None:
        source = a_file(tmp_path / "src", "empty.txt", b"")
        sent = destination.send(upload_of(source, target("empty.txt")), lambda _: None)
        assert sent.bytes == 0
        assert landed(sent.url).body == b""

    def test_a_refused_destination_is_a_permanent_error(
        self, destination: UploadDestination, refused_target: str, tmp_path: Path
    ) -> None:
        source = a_file(tmp_path / "src", "refused.bin", b"nobody wants this")
        with pytest.raises(PermanentError):
            destination.send(upload_of(source, refused_target), lambda _: None)

    def test_a_destination_that_cannot_take_it_now_is_retryable(
        self, down_destination: UploadDestination, down_target: str, tmp_path: Path
    ) -> None:
        down, url = down_destination, down_target
        source = a_file(tmp_path / "src", "down.bin", b"x" * 1000)
        with pytest.raises(RetryableError):
            down.send(upload_of(source, url), lambda _: None)

    def test_a_malformed_url_is_an_invalid_destination(
        self, destination: UploadDestination
    ) -> None:
        scheme = destination.schemes[0]
        for url in (f"{scheme}://", f"{scheme}://bad host/with spaces?q#f"):
            with pytest.raises(InvalidArgument) as caught:
                destination.validate(url)
            assert caught.value.argument == "destination"
