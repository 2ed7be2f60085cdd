"""The contract every download client keeps, as test classes each client's module subclasses.

``DownloadClientContract`` is for every client; ``PeerClientContract`` adds what a client
of a peer program keeps (its health is whether the peer answers). A subclass provides
these fixtures and inherits every test:

- ``client``: the client under test, talking to its real peer program;
- ``offer``: ``offer(body, name) -> Link`` makes ``body`` downloadable as a file called
  ``name`` through the link kind this client is for (an HTTP URL, a .torrent, an .nzb…);
- ``bad_link``: a Link of that kind which can never be downloaded (missing file, bad
  article, …);
- ``foreign_url`` (a class attribute): a link this client does not handle at all (an
  .nzb unless overridden);
- ``down_client``: the same kind of client pointed at an endpoint where nothing listens,
  and ``down_link``: a link to give it (for the in-process HTTP client, which has no peer
  program, a URL where nothing listens).

The in-process HTTP client has no peer program, so it has nothing to be unhealthy about
(its ``healthy()`` is always true): it keeps ``DownloadClientContract`` only.

Modelled on huey's storage tests: one suite, run against every implementation.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from hauler.downloads.clients.base import Affinity, DownloadClient, Job
from hauler.downloads.links import Link, classify
from hauler.errors import PermanentError, RetryableError
from hauler.progress import Progress


class DownloadClientContract:
    """Inherit this; provide ``client``, ``offer``, ``bad_link``, ``down_client``, ``down_link``."""

    body_size = 2 * 1024 * 1024 + 13
    #: a link of a kind this client does not handle at all
    foreign_url = "https://example.invalid/file.nzb"

    def test_downloads_the_exact_bytes_into_the_workdir(
        self, client: DownloadClient, offer, tmp_path: Path
    ) -> None:
        # given a file offered through the client's own kind of link
        body = os.urandom(self.body_size)
        link = offer(body, "contract.bin")
        workdir = tmp_path / "work"
        workdir.mkdir()
        seen: list[Progress] = []
        # when the client downloads it
        finished = client.download(Job(link, workdir, tag="hauler-contract-1"), seen.append)
        # then the very bytes land inside the work directory, under the offered name
        assert finished.path.is_relative_to(workdir)
        files = [finished.path] if finished.path.is_file() else sorted(finished.path.rglob("*"))
        data = [p for p in files if p.is_file() and p.name == "contract.bin"]
        assert data, f"no contract.bin under {finished.path}: {files}"
        assert hashlib.sha256(data[0].read_bytes()).digest() == hashlib.sha256(body).digest()
        assert finished.bytes == len(body)
        if finished.sha256 is not None:
            assert finished.sha256 == hashlib.sha256(body).hexdigest()
        # and progress was reported, ending at the whole size
        assert seen, "no progress was reported"
        assert seen[-1].done == len(body)

    def test_is_a_specialist_or_compatible_for_its_links_and_refuses_foreign_ones(
        self, client: DownloadClient, offer
    ) -> None:
        link = offer(b"affinity", "affinity.bin")
        assert client.affinity(link) in (Affinity.SPECIALIST, Affinity.COMPATIBLE)
        assert client.affinity(classify(self.foreign_url)) is Affinity.INCOMPATIBLE

    def test_a_link_that_cannot_be_downloaded_is_a_permanent_error(
        self, client: DownloadClient, bad_link: Link, tmp_path: Path
    ) -> None:
        with pytest.raises(PermanentError):
            client.download(Job(bad_link, tmp_path, tag="hauler-contract-bad"), lambda _: None)

    def test_an_endpoint_that_does_not_answer_is_a_retryable_error(
        self, down_client: DownloadClient, down_link: Link, tmp_path: Path
    ) -> None:
        with pytest.raises(RetryableError):
            down_client.download(
                Job(down_link, tmp_path, tag="hauler-contract-down"), lambda _: None
            )

    def test_running_the_same_job_again_gives_the_same_file(
        self, client: DownloadClient, offer, tmp_path: Path
    ) -> None:
        # a redelivered task runs its job again with the same tag: no harm, same bytes
        body = os.urandom(64 * 1024)
        link = offer(body, "again.bin")
        (tmp_path / "a").mkdir()
        (tmp_path / "b").mkdir()
        first = client.download(Job(link, tmp_path / "a", tag="hauler-contract-2"), lambda _: None)
        first_bytes = _only_file(first.path).read_bytes()
        second = client.download(Job(link, tmp_path / "b", tag="hauler-contract-2"), lambda _: None)
        assert _only_file(second.path).read_bytes() == first_bytes == body


def _only_file(path: Path) -> Path:
    if path.is_file():
        return path
    files = [p for p in path.rglob("*") if p.is_file()]
    assert len(files) == 1, files
    return files[0]


class PeerClientContract(DownloadClientContract):
    """The contract of a client that drives a peer program: healthy exactly when it answers."""

    def test_is_healthy_when_its_peer_answers(self, client: DownloadClient) -> None:
        assert client.healthy() is True

    def test_is_unhealthy_when_its_peer_does_not_answer(self, down_client: DownloadClient) -> None:
        assert down_client.healthy() is False
