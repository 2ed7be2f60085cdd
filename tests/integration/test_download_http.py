"""The in-process HTTP client: the contract suite, then resume, limits and SSRF, on loopback."""

from __future__ import annotations

import hashlib
import os
import stat
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from hauler.downloads.clients.base import DownloadClient, Job
from hauler.downloads.clients.http import HttpClient
from hauler.downloads.links import Link, classify
from hauler.downloads.safety import Forbidden
from hauler.errors import DiskFull, RetryableError, TooLarge
from tests.integration.download_contract import DownloadClientContract
from tests.integration.http_server import LoopbackServer, Resource, free_port
from tests.integration.services import tmpfs

pytestmark = pytest.mark.integration

BODY = os.urandom(3 * 1024 * 1024 + 17)
SHA = hashlib.sha256(BODY).hexdigest()


def http_client() -> HttpClient:
    return HttpClient(allow=["127.0.0.1/32"])


def job(server: LoopbackServer, path: str, workdir: Path, **extra: object) -> Job:
    return Job(classify(server.url(path)), workdir, tag="t-1", **extra)  # type: ignore[arg-type]


class TestHttpContract(DownloadClientContract):
    """The in-process HTTP client against a loopback server (no peer program: no health case)."""

    @pytest.fixture
    def client(self) -> DownloadClient:
        return http_client()

    @pytest.fixture
    def offer(self, server: LoopbackServer) -> Callable[[bytes, str], Link]:
        def offer(body: bytes, name: str) -> Link:
            server.resources[f"/files/{name}"] = Resource(body, chunk_delay=0.001)
            return classify(server.url(f"/files/{name}"))

        return offer

    @pytest.fixture
    def bad_link(self, server: LoopbackServer) -> Link:
        return classify(server.url("/files/missing.bin"))

    @pytest.fixture
    def down_client(self) -> DownloadClient:
        return HttpClient(allow=["127.0.0.1/32"], timeout=2)

    @pytest.fixture
    def down_link(self) -> Link:
        return classify(f"http://127.0.0.1:{free_port()}/nothing-listens.bin")


def test_http_resumes_a_broken_transfer_with_range(server, tmp_path):
    # given a server that drops the connection half-way through, once
    server.resources["/big.bin"] = Resource(BODY, cut_after=len(BODY) // 2)
    client = http_client()
    with pytest.raises(RetryableError):
        client.download(job(server, "/big.bin", tmp_path), lambda p: None)
    kept = (tmp_path / "big.bin.part").stat().st_size
    assert 0 < kept < len(BODY)
    # when it is tried again, then it asks for the rest only and the result is whole
    finished = client.download(job(server, "/big.bin", tmp_path), lambda p: None)
    assert server.range_requests == [f"bytes={kept}-"]
    assert finished.sha256 == SHA and finished.path.read_bytes() == BODY


def test_http_restarts_when_the_file_changed_since_the_partial(server, tmp_path):
    server.resources["/v.bin"] = Resource(BODY, cut_after=len(BODY) // 3)
    client = http_client()
    with pytest.raises(RetryableError):
        client.download(job(server, "/v.bin", tmp_path), lambda p: None)
    changed = BODY[::-1]
    server.resources["/v.bin"] = Resource(changed)  # a new ETag: If-Range fails → 200
    finished = client.download(job(server, "/v.bin", tmp_path), lambda p: None)
    assert finished.path.read_bytes() == changed


def test_http_enforces_max_bytes_from_the_header_and_while_streaming(server, tmp_path):
    server.resources["/big.bin"] = Resource(BODY)
    with pytest.raises(TooLarge):
        http_client().download(job(server, "/big.bin", tmp_path, max_bytes=1024), lambda p: None)


def test_http_sanitises_content_disposition_names(server, tmp_path):
    server.resources["/get"] = Resource(
        b"x" * 10, disposition='attachment; filename="../../etc/evil.sh"'
    )
    finished = http_client().download(job(server, "/get", tmp_path), lambda p: None)
    assert finished.path == tmp_path / "evil.sh"


def test_http_refuses_private_addresses_unless_allowed(server, tmp_path):
    server.resources["/f"] = Resource(b"secret")
    with pytest.raises(Forbidden):
        HttpClient(allow=[]).download(job(server, "/f", tmp_path), lambda p: None)


def test_http_checks_every_redirect_hop(server, tmp_path):
    # given "localhost" allowed by name but 127.0.0.1 not, and a redirect to 127.0.0.1
    server.resources["/f"] = Resource(b"secret")
    port = server.httpd.server_port
    server.resources["/r"] = Resource(b"", redirect_to=f"http://127.0.0.1:{port}/f")
    link = classify(f"http://localhost:{port}/r")
    with pytest.raises(Forbidden):
        HttpClient(allow=["localhost"]).download(Job(link, tmp_path, "t"), lambda p: None)


def test_http_maps_server_errors_to_retryable(server, tmp_path):
    server.resources["/busy"] = Resource(BODY, fail_first=1)
    with pytest.raises(RetryableError):
        http_client().download(job(server, "/busy", tmp_path), lambda p: None)
    assert http_client().download(job(server, "/busy", tmp_path), lambda p: None).sha256 == SHA


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MiB disk to stage downloads on."""
    with tmpfs(tmp_path / "small-disk", "2m") as disk:
        yield disk


def test_a_file_larger_than_the_free_space_fails_before_the_transfer(server, small_disk):
    server.resources["/big.bin"] = Resource(BODY)
    with pytest.raises(DiskFull, match=r"has \d+ free"):
        http_client().download(job(server, "/big.bin", small_disk), lambda p: None)
    assert list(small_disk.iterdir()) == [] or not (small_disk / "big.bin.part").stat().st_size


def test_a_full_disk_keeps_the_partial_file_and_resumes_when_there_is_room(server, small_disk):
    # given a file of unannounced size (no Content-Length) larger than the staging disk
    server.resources["/nolen.bin"] = Resource(BODY, send_length=False)
    # when the disk fills up, then the error says so and the partial file stays
    with pytest.raises(DiskFull, match="disk full"):
        http_client().download(job(server, "/nolen.bin", small_disk), lambda p: None)
    kept = (small_disk / "nolen.bin.part").stat().st_size
    assert kept > 0
    # when room is made, then the retry asks only for the rest and the file is whole
    subprocess.run(["mount", "-o", "remount,size=16m", str(small_disk)], check=True)
    finished = http_client().download(job(server, "/nolen.bin", small_disk), lambda p: None)
    assert server.range_requests == [f"bytes={kept}-"]
    assert finished.sha256 == SHA


@pytest.mark.parametrize(("umask", "expected"), [(0o022, 0o644), (0o077, 0o600)])
def test_http_downloads_are_created_without_execute_bits_under_the_umask(
    server, tmp_path, umask, expected
):
    # given a process umask
    server.resources["/mode.bin"] = Resource(b"m" * 1000)
    previous = os.umask(umask)
    # when a file is downloaded
    try:
        finished = http_client().download(job(server, "/mode.bin", tmp_path), lambda p: None)
    finally:
        os.umask(previous)
    # then it is 0666 less the umask: readable, never executable
    mode = stat.S_IMODE(finished.path.stat().st_mode)
    assert mode == expected, f"mode {mode:o}, expected {expected:o} under umask {umask:03o}"
