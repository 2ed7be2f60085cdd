"""uploads.push: the destination contract (file, HTTP PUT/POST, S3 on moto), then the task.

Every peer is real and on 127.0.0.1: the loopback HTTP server and moto's S3 server.
The task tests run a real worker subprocess.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import os
import stat
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from celery import Celery

from hauler import activity, deadletter
from hauler.downloads.safety import Forbidden
from hauler.errors import PermanentError
from hauler.settings import Settings
from hauler.uploads import service
from hauler.uploads.base import UploadDestination
from hauler.uploads.file import DestinationExists, FileDestination
from hauler.uploads.http import HttpDestination
from hauler.uploads.s3 import S3Destination
from hauler.uploads.settings import UploadSettings
from tests.integration.http_server import LoopbackServer, free_port
from tests.integration.s3_server import KEY_ID, REGION, SECRET, MotoServer
from tests.integration.services import tmpfs, wait_for
from tests.integration.upload_contract import Landed, UploadDestinationContract, a_file

pytestmark = pytest.mark.integration

MIB = 1024 * 1024
LOOPBACK = ("127.0.0.1",)


@pytest.fixture(scope="module")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    server = MotoServer.start(tmp_path_factory.mktemp("moto") / "moto.log")
    yield server
    server.stop()


@pytest.fixture
def bucket(moto: MotoServer) -> str:
    name = f"hauler-{uuid.uuid4().hex[:12]}"
    moto.client().create_bucket(Bucket=name)
    return name


def s3_settings(endpoint: str, **extra: Any) -> UploadSettings:
    """Upload settings that point at an S3 endpoint with moto's credentials."""
    values: dict[str, Any] = {
        "s3_region": REGION,
        "s3_access_key_id": KEY_ID,
        "s3_secret_access_key": SECRET,
        "http_timeout": 3,
        **extra,
    }
    return UploadSettings(s3_endpoint_url=endpoint, **values)


def http_landed(server: LoopbackServer) -> Callable[[str], Landed]:
    def landed(url: str) -> Landed:
        entry = server.received[urlsplit(url).path][-1]
        sha256 = entry["headers"].get("X-Checksum-Sha256")
        if entry["method"] == "PUT":
            return Landed(entry["body"], sha256)
        [part] = entry["parts"]
        assert (part["name"], part["filename"]) == ("file", urlsplit(url).path.rsplit("/")[-1])
        return Landed(part["body"], sha256)

    return landed


class TestFileContract(UploadDestinationContract):
    """file:// into a directory under the allowed roots."""

    @pytest.fixture
    def destination(self, tmp_path: Path) -> UploadDestination:
        return FileDestination([tmp_path / "out"])

    @pytest.fixture
    def target(self, tmp_path: Path) -> Callable[[str], str]:
        return lambda name: f"{(tmp_path / 'out').as_uri()}/"

    @pytest.fixture
    def landed(self) -> Callable[[str], Landed]:
        return lambda url: Landed(Path(urlsplit(url).path).read_bytes(), None)

    @pytest.fixture
    def refused_target(self, tmp_path: Path) -> str:
        a_file(tmp_path / "out", "refused.bin", b"someone else's file")
        return (tmp_path / "out" / "refused.bin").as_uri()

    @pytest.fixture
    def full_disk(self, tmp_path: Path) -> Iterator[Path]:
        """A 64 KiB disk, filled up."""
        with tmpfs(tmp_path / "full", "64k") as disk:
            with contextlib.suppress(OSError), (disk / "filler").open("wb") as filler:
                filler.write(b"\0" * 1024 * 1024)
            yield disk

    @pytest.fixture
    def down_destination(self, full_disk: Path) -> UploadDestination:
        return FileDestination([full_disk])

    @pytest.fixture
    def down_target(self, full_disk: Path) -> str:
        return f"{full_disk.as_uri()}/"


class TestHttpPutContract(UploadDestinationContract):
    """HTTP PUT to the loopback server."""

    method = "PUT"

    @pytest.fixture
    def destination(self) -> UploadDestination:
        return HttpDestination(self.method, allow=LOOPBACK, timeout=5)

    @pytest.fixture
    def target(self, server: LoopbackServer) -> Callable[[str], str]:
        return lambda name: server.url(f"/incoming/{uuid.uuid4().hex[:8]}/{name}")

    @pytest.fixture
    def landed(self, server: LoopbackServer) -> Callable[[str], Landed]:
        return http_landed(server)

    @pytest.fixture
    def refused_target(self, server: LoopbackServer) -> str:
        return server.url("/forbidden/refused.bin")

    @pytest.fixture
    def down_destination(self) -> UploadDestination:
        return HttpDestination(self.method, allow=LOOPBACK, timeout=2)

    @pytest.fixture
    def down_target(self) -> str:
        return f"http://127.0.0.1:{free_port()}/nothing-listens.bin"


class TestHttpPostContract(TestHttpPutContract):
    """HTTP multipart POST (field ``file``) to the loopback server."""

    method = "POST"


class TestS3Contract(UploadDestinationContract):
    """S3 on moto's server, with a small multipart threshold so parts are exercised."""

    @pytest.fixture
    def destination(self, moto: MotoServer) -> UploadDestination:
        return S3Destination(
            s3_settings(moto.url, s3_multipart_threshold=1 * MIB, s3_part_size=1 * MIB)
        )

    @pytest.fixture
    def target(self, bucket: str) -> Callable[[str], str]:
        return lambda name: f"s3://{bucket}/contract/"

    @pytest.fixture
    def landed(self, moto: MotoServer) -> Callable[[str], Landed]:
        def landed(url: str) -> Landed:
            bucket, key = url.removeprefix("s3://").split("/", 1)
            got = moto.client().get_object(Bucket=bucket, Key=key)
            return Landed(got["Body"].read(), got["Metadata"].get("sha256"))

        return landed

    @pytest.fixture
    def refused_target(self) -> str:
        return f"s3://no-such-bucket-{uuid.uuid4().hex[:8]}/refused.bin"

    @pytest.fixture
    def down_destination(self) -> UploadDestination:
        return S3Destination(s3_settings(f"http://127.0.0.1:{free_port()}", http_timeout=1))

    @pytest.fixture
    def down_target(self) -> str:
        return "s3://any-bucket/down.bin"


# --- the service, without Celery -----------------------------------------------------------


@pytest.fixture
def settings(tmp_path: Path, redis_url: str) -> Settings:
    """Settings with the data dir in tmp_path, this test's Redis, loopback HTTP allowed."""
    data = tmp_path / "data"
    return Settings(
        broker_url=redis_url,
        data_dir=data,
        download_dir=data / "downloads",
        uploads=UploadSettings(allow_networks=LOOPBACK, http_timeout=5),
    )


def test_a_file_never_appears_half_written_under_its_final_name(settings, tmp_path: Path):
    # given a 6 MiB file and a file:// destination directory
    body = os.urandom(6 * MIB)
    source = a_file(settings.data_dir, "whole.bin", body)
    final = settings.data_dir / "out" / "whole.bin"
    seen_while_copying: list[tuple[bool, list[str]]] = []

    def look(progress: Any) -> None:
        hidden = [p.name for p in final.parent.glob(".whole.bin.*.upload")]
        seen_while_copying.append((final.exists(), hidden))

    # when it is uploaded, looking at the directory at every progress report
    result = service.push(settings, str(source), final.parent.as_uri() + "/", progress=look)
    # then while copying only a hidden temporary existed; afterwards only the whole file
    assert seen_while_copying, "no progress was reported"
    assert all(not exists and hidden for exists, hidden in seen_while_copying)
    assert final.read_bytes() == body and result["destination"] == final.as_uri()
    assert [p.name for p in final.parent.iterdir()] == ["whole.bin"]


def test_a_different_file_under_the_name_is_never_overwritten(settings):
    # given a file already at the destination with other bytes
    source = a_file(settings.data_dir, "report.csv", b"new,numbers\n")
    existing = a_file(settings.data_dir / "out", "report.csv", b"old,numbers\n")
    # when a different file is uploaded to that name
    with pytest.raises(DestinationExists, match="not overwritten"):
        service.push(settings, str(source), existing.as_uri())
    # then the old one is kept; but the same bytes again are a no-op that succeeds
    assert existing.read_bytes() == b"old,numbers\n"
    same = a_file(settings.data_dir, "same.csv", b"old,numbers\n")
    result = service.push(settings, str(same), existing.as_uri())
    assert (result["skipped"], result["destination"]) == (True, existing.as_uri())


def test_a_file_upload_is_0644_in_0755_directories_whatever_the_source_mode(settings):
    # given an executable source file and a destination two directories deep, not there yet
    source = a_file(settings.data_dir, "tool.sh", b"#!/bin/sh\necho hi\n")
    source.chmod(0o755)
    target = settings.data_dir / "out" / "deep" / "er"
    previous = os.umask(0o022)
    # when it is uploaded to a file:// destination
    try:
        result = service.push(settings, str(source), target.as_uri() + "/")
    finally:
        os.umask(previous)
    # then the copy is rw-r--r-- and the directories made for it rwxr-xr-x
    placed = target / "tool.sh"
    modes = {p.name: oct(stat.S_IMODE(p.stat().st_mode)) for p in (placed, target, target.parent)}
    assert modes == {"tool.sh": "0o644", "er": "0o755", "deep": "0o755"}, modes
    assert result["destination"] == placed.as_uri()


def test_http_uploads_are_refused_for_private_addresses_unless_allow_listed(settings, server):
    # given settings without an allow list and a loopback HTTP server
    strict = replace(settings, uploads=UploadSettings())
    source = a_file(settings.data_dir, "secret.txt", b"internal")
    # when a file is pushed to it, then the SSRF guard refuses, naming the setting
    with pytest.raises(Forbidden, match="HAULER_UPLOADS_ALLOW_NETWORKS"):
        service.push(strict, str(source), server.url("/steal"))
    assert server.upload_log == []
    # and with 127.0.0.1 allowed it goes through
    assert service.push(settings, str(source), server.url("/steal"))["bytes"] == 8


def test_delete_after_removes_the_file_only_after_a_verified_upload(settings, server):
    # given two files, one for an endpoint that accepts and one for one that refuses
    kept = a_file(settings.data_dir, "kept.bin", b"k" * 1000)
    gone = a_file(settings.data_dir, "gone.bin", b"g" * 1000)
    # when both are pushed with delete_after
    with pytest.raises(PermanentError, match="HTTP 403"):
        service.push(settings, str(kept), server.url("/forbidden/kept.bin"), delete_after=True)
    result = service.push(settings, str(gone), server.url("/in/gone.bin"), delete_after=True)
    # then only the uploaded one is deleted
    assert kept.exists() and not gone.exists()
    assert result["deleted"] is True
    assert server.received["/in/gone.bin"][0]["body"] == b"g" * 1000


def test_a_redelivered_task_gets_its_receipt_instead_of_a_second_post(settings, server):
    # given a POST upload with delete_after that finished under a task id
    source = a_file(settings.data_dir, "once.bin", b"o" * 5000)
    url = server.url("/form")
    first = service.push(
        settings, str(source), url, method="POST", delete_after=True, task_id="task-1"
    )
    assert server.received["/form"][0]["headers"]["Idempotency-Key"] == "task-1"
    # when the same message is delivered again (the file is gone by now)
    again = service.push(
        settings, str(source), url, method="POST", delete_after=True, task_id="task-1"
    )
    # then the first result comes back and nothing is posted twice
    assert again == first
    assert len(server.received["/form"]) == 1


def test_large_s3_uploads_go_up_in_parts_with_the_sha256_as_metadata(settings, moto, bucket):
    # given a 12 MiB file and 5 MiB parts
    body = os.urandom(12 * MIB)
    source = a_file(settings.data_dir, "parts.bin", body)
    config = s3_settings(moto.url, s3_multipart_threshold=5 * MIB, s3_part_size=5 * MIB)
    # when it is pushed to S3
    result = service.push(replace(settings, uploads=config), str(source), f"s3://{bucket}/p/")
    # then moto holds it as a 3-part object with the sha256 in its metadata
    head = moto.client().head_object(Bucket=bucket, Key="p/parts.bin")
    assert result["etag"] == head["ETag"] and head["ETag"].endswith('-3"')
    assert head["Metadata"]["sha256"] == hashlib.sha256(body).hexdigest() == result["sha256"]
    assert result["destination"] == f"s3://{bucket}/p/parts.bin"


# --- the task, through a real worker ----------------------------------------------------------


@pytest.fixture
def uploads_env(hauler_env: dict[str, str], moto: MotoServer) -> dict[str, str]:
    """The worker's environment: loopback allowed for HTTP, S3 on moto."""
    hauler_env.update(moto.env(), HAULER_UPLOADS_ALLOW_NETWORKS="127.0.0.1")
    return hauler_env


def data_dir(env: dict[str, str]) -> Path:
    return Path(env["HAULER_DATA_DIR"])


def test_a_busy_http_peer_is_retried_with_backoff_until_it_accepts(
    start_worker, uploads_env, recorder, client_app: Celery, server: LoopbackServer, pg_url: str
):
    # given an uploads worker and an HTTP peer that answers 503 twice first
    start_worker(["uploads"])
    body = os.urandom(256 * 1024)
    source = a_file(data_dir(uploads_env), "busy.bin", body)
    server.fail_uploads = 2
    # when a foreign app pushes a file to it by task name
    result = client_app.send_task(
        "uploads.push", args=[str(source), server.url("/busy/busy.bin")], queue="uploads"
    )
    outcome = result.get(timeout=60)
    # then it waited out the backoff (0.5 s, then 1 s, equal jitter) and succeeded third time
    assert [status for *_, status in server.upload_log] == [503, 503, 201]
    gaps = [b[0] - a[0] for a, b in itertools.pairwise(server.upload_log)]
    assert gaps[0] >= 0.2 and gaps[1] >= 0.45
    assert outcome["sha256"] == hashlib.sha256(body).hexdigest()
    assert outcome["destination"] == server.url("/busy/busy.bin") and outcome["bytes"] == len(body)
    assert server.received["/busy/busy.bin"][0]["body"] == body
    # and the upload is in the activity log as a domain event
    rows = wait_for(
        lambda: [
            r for r in activity.timeline(pg_url, result.id) if r.event_type == "upload.finished"
        ]
    )
    assert rows[0].payload["sha256"] == outcome["sha256"]


def test_a_refusing_http_peer_is_permanent_dead_lettered_and_not_retried(
    start_worker, uploads_env, client_app: Celery, server: LoopbackServer, pg_url: str, hauler_cli
):
    # given an uploads worker and an endpoint that answers 403
    start_worker(["uploads"])
    source = a_file(data_dir(uploads_env), "refused.bin", b"r" * 4096)
    # when a file is pushed there with delete_after
    result = client_app.send_task(
        "uploads.push",
        args=[str(source), server.url("/forbidden/refused.bin")],
        kwargs={"delete_after": True},
        queue="uploads",
    )
    # then it fails at once naming the status, after one attempt, and keeps the file
    with pytest.raises(Exception, match="HTTP 403"):
        result.get(timeout=60)
    assert len(server.upload_log) == 1 and source.exists()
    letter = wait_for(lambda: deadletter.get(pg_url, result.id))
    assert (letter.task_name, letter.reason, letter.attempts) == ("uploads.push", "permanent", 1)
    listed = hauler_cli("dlq", "list")
    assert listed.returncode == 0, listed.stderr
    assert "uploads.push" in listed.stdout and "HTTP 403" in listed.stdout


def test_progress_is_visible_while_an_upload_runs(
    start_worker, uploads_env, client_app: Celery, server: LoopbackServer
):
    # given an uploads worker and a peer that reads a 16 MiB body slowly (about 2.5 s)
    start_worker(["uploads"])
    size = 16 * MIB
    source = a_file(data_dir(uploads_env), "slow.bin", os.urandom(size))
    server.receive_delay = 0.01
    # when the file is pushed, watching the task's state
    result = client_app.send_task(
        "uploads.push", args=[str(source), server.url("/slow/s.bin")], queue="uploads"
    )
    seen: list[dict[str, Any]] = []
    deadline = time.monotonic() + 60
    while not result.ready() and time.monotonic() < deadline:
        if result.state == "PROGRESS" and result.info not in seen:
            seen.append(result.info)
        time.sleep(0.05)
    # then PROGRESS states showed bytes, total, rate and eta, and it finished
    assert result.get(timeout=10)["bytes"] == size
    assert seen, "no PROGRESS state was seen"
    assert all(meta["total"] == size and 0 < meta["bytes"] <= size for meta in seen)
    assert {"rate", "eta"} <= set(seen[0])


@pytest.fixture
def spooling_server(tmp_path: Path) -> Iterator[LoopbackServer]:
    """A loopback server that streams upload bodies to files, not memory."""
    server = LoopbackServer(spool_dir=tmp_path).start()
    yield server
    server.stop()


def test_large_files_go_up_with_flat_worker_memory(
    start_worker,
    uploads_env,
    client_app: Celery,
    spooling_server: LoopbackServer,
    bucket: str,
):
    # given a 64 MiB file, an HTTP peer that spools bodies to disk, and a one-process
    # uploads worker that has already done a 9 MiB S3 and HTTP upload (code loaded)
    server = spooling_server
    size = 64 * MIB
    big, digest = a_large_file(data_dir(uploads_env) / "big.bin", size)
    worker = start_worker(["uploads"])
    small, _ = a_large_file(data_dir(uploads_env) / "warm.bin", 9 * MIB)  # two S3 parts
    for url in (f"s3://{bucket}/warm/", server.url("/warm/warm.bin")):
        warm = client_app.send_task("uploads.push", args=[str(small), url], queue="uploads")
        warm.get(timeout=60)
    [pid] = worker.pool_pids()
    # when the big file goes to S3 (multipart) and over HTTP, measuring the peak RSS
    growth = {}
    results = {}
    for label, url in (("s3", f"s3://{bucket}/big/"), ("http", server.url("/big/big.bin"))):
        baseline = reset_peak_rss(pid)
        sent = client_app.send_task("uploads.push", args=[str(big), url], queue="uploads")
        results[label] = sent.get(timeout=120)
        growth[label] = peak_rss(pid) - baseline
    # then both arrived whole, and the worker's memory grew far less than the file
    assert results["s3"]["sha256"] == results["http"]["sha256"] == digest
    assert results["s3"]["etag"].endswith('-8"')  # 8 parts of 8 MiB
    received = server.received["/big/big.bin"][0]
    assert (received["bytes"], received["sha256"]) == (size, digest)
    # 4 transfer threads stream their parts: 12-20 MiB seen; buffered parts would be >= 32 MiB
    assert growth["s3"] < 28 * MIB, f"S3 upload grew the worker by {growth['s3'] / MIB:.1f} MiB"
    assert growth["http"] < 8 * MIB, (
        f"HTTP upload grew the worker by {growth['http'] / MIB:.1f} MiB"
    )


def a_large_file(path: Path, size: int) -> tuple[Path, str]:
    """Write ``size`` random bytes to ``path`` a MiB at a time; return it and its sha256."""
    path.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    with path.open("wb") as out:
        for _ in range(size // MIB):
            chunk = os.urandom(MIB)
            out.write(chunk)
            digest.update(chunk)
    return path, digest.hexdigest()


def reset_peak_rss(pid: int) -> int:
    """Reset the process's peak RSS to its current RSS (Linux clear_refs 5); return that RSS."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")
    return _status_bytes(pid, "VmRSS")


def peak_rss(pid: int) -> int:
    """The process's peak RSS in bytes since the last reset."""
    return _status_bytes(pid, "VmHWM")


def _status_bytes(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no {field} in /proc/{pid}/status")
