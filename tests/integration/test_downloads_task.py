"""``downloads.fetch`` through a real worker: results, progress, resume after kill -9, errors."""

from __future__ import annotations

import hashlib
import io
import json
import os
import signal
import stat
import threading
from pathlib import Path

import pytest
from celery import Celery
from PIL import Image

from hauler import activity, deadletter
from tests.integration.http_server import LoopbackServer, Resource
from tests.integration.services import wait_for

pytestmark = pytest.mark.integration

BODY = os.urandom(6 * 1024 * 1024 + 5)
SHA = hashlib.sha256(BODY).hexdigest()


@pytest.fixture
def env(hauler_env: dict[str, str]) -> dict[str, str]:
    """The test environment with loopback allowed through the SSRF guard."""
    hauler_env["HAULER_DOWNLOADS_ALLOW_NETWORKS"] = "127.0.0.1/32"
    return hauler_env


def send(app: Celery, url: str, **kwargs: object):
    return app.send_task("downloads.fetch", args=[url], kwargs=kwargs, queue="downloads")


def test_another_app_fetches_by_name_and_gets_a_verified_file(
    start_worker, env, client_app: Celery, server: LoopbackServer
):
    # given a downloads worker and a file on a loopback server
    start_worker(["downloads"])
    server.resources["/pub/data.bin"] = Resource(BODY)
    # when an app that knows only the task name asks for it, with its checksum
    result = send(client_app, server.url("/pub/data.bin"), sha256=SHA, dest="inbox").get(timeout=60)
    # then the file lands, verified, under the download root, and the result says so
    path = Path(result["path"])
    assert path == Path(env["HAULER_DATA_DIR"]) / "downloads" / "inbox" / "data.bin"
    assert hashlib.sha256(path.read_bytes()).hexdigest() == SHA
    assert (result["bytes"], result["sha256"], result["client"]) == (len(BODY), SHA, "http")
    assert "specialist for direct" in result["reason"] and result["download_id"] >= 1
    # and nothing is left in staging
    assert not any((Path(env["HAULER_DATA_DIR"]) / "staging").rglob("*.part"))


def test_progress_is_visible_while_it_runs_and_hauler_shows_it(
    start_worker, env, client_app: Celery, server: LoopbackServer, hauler_cli
):
    # given a slow transfer (64 KiB chunks, 40 ms apart) held halfway until the CLI has looked
    start_worker(["downloads"])
    gate = threading.Event()
    server.resources["/slow.bin"] = Resource(BODY, chunk_delay=0.04, gate=gate)
    result = send(client_app, server.url("/slow.bin"))
    # when it runs, then its state is PROGRESS with bytes, total, rate and eta
    info = wait_for(
        lambda: result.state == "PROGRESS" and 0 < result.info["bytes"] < len(BODY) and result.info,
        timeout=30,
    )
    assert info["total"] == len(BODY) and info["rate"] > 0 and info["eta"] is not None
    # and `hauler transfers` and `hauler task` show it
    try:
        listing = hauler_cli("transfers")
        shown = hauler_cli("task", result.id)
    finally:
        gate.set()
    assert listing.returncode == 0, listing.stderr
    assert result.id in listing.stdout and "MiB" in listing.stdout
    assert "PROGRESS" in shown.stdout
    assert result.get(timeout=60)["sha256"] == SHA
    assert result.id not in hauler_cli("transfers").stdout


def test_a_download_killed_half_way_resumes_where_it_stopped(
    start_worker, env, client_app: Celery, server: LoopbackServer
):
    # given a slow transfer running in a worker's pool process
    worker = start_worker(["downloads"])
    server.resources["/big.bin"] = Resource(BODY, chunk_delay=0.03)
    result = send(client_app, server.url("/big.bin"), sha256=SHA)
    wait_for(lambda: result.state == "PROGRESS" and result.info["bytes"] > len(BODY) // 3)
    # when the process running it is killed with SIGKILL
    for pid in worker.pool_pids():
        os.kill(pid, signal.SIGKILL)
    # then the task runs again, asks only for the missing bytes, and the file is whole
    done = result.get(timeout=120)
    assert done["sha256"] == SHA and Path(done["path"]).read_bytes() == BODY
    assert len(server.range_requests) == 1
    resumed_at = int(server.range_requests[0].removeprefix("bytes=").rstrip("-"))
    assert len(BODY) // 3 <= resumed_at < len(BODY)


def test_transient_server_errors_are_retried_until_the_file_comes(
    start_worker, env, client_app: Celery, server: LoopbackServer
):
    start_worker(["downloads"])
    server.resources["/busy.bin"] = Resource(BODY, fail_first=2)
    result = send(client_app, server.url("/busy.bin")).get(timeout=60)
    assert result["sha256"] == SHA
    assert server.resources["/busy.bin"].hits == 3


def test_a_download_lands_as_0644_in_0755_directories(
    start_worker, env, client_app: Celery, server: LoopbackServer
):
    # given a worker (umask 022, as inherited) and a destination that does not exist yet
    start_worker(["downloads"])
    server.resources["/pub/data.bin"] = Resource(BODY)
    # when a file is fetched into it
    result = send(client_app, server.url("/pub/data.bin"), dest="deep/er").get(timeout=60)
    # then the file is rw-r--r-- and the directories rwxr-xr-x
    path = Path(result["path"])
    modes = {p.name: oct(stat.S_IMODE(p.stat().st_mode)) for p in (path, *path.parents[:2])}
    assert modes == {"data.bin": "0o644", "er": "0o755", "deep": "0o755"}, modes


def test_a_download_that_fails_for_good_leaves_no_staging_directory(
    start_worker, env, client_app: Celery, server: LoopbackServer
):
    # given a worker and a link to nothing
    start_worker(["downloads"])
    # when the download fails for good (HTTP 404)
    result = send(client_app, server.url("/gone.bin"))
    with pytest.raises(Exception, match="HTTP 404"):
        result.get(timeout=60)
    # then its staging directory is gone with it
    staging = Path(env["HAULER_DATA_DIR"]) / "staging"
    assert not (staging / result.id).exists(), sorted(p.name for p in staging.iterdir())


def test_a_partial_stays_while_a_retry_is_due_and_goes_when_the_retries_run_out(
    start_worker, env, client_app: Celery, server: LoopbackServer
):
    # given one retry, 2-4 s after the first attempt, and a server that breaks off half-way
    env.update(HAULER_RETRY_MAX="1", HAULER_RETRY_BACKOFF="4", HAULER_RETRY_BACKOFF_MAX="4")
    start_worker(["downloads"])
    server.resources["/cut.bin"] = Resource(BODY, cut_after=len(BODY) // 2)
    result = send(client_app, server.url("/cut.bin"))
    partial = Path(env["HAULER_DATA_DIR"]) / "staging" / result.id / "cut.bin.part"
    # when the first attempt breaks, then the partial file is kept for the retry to resume
    wait_for(lambda: result.state == "RETRY" and partial.exists(), timeout=30)
    assert 0 < partial.stat().st_size < len(BODY)
    # when the retry fails too (the server now answers 500) and no retry is left
    server.resources["/cut.bin"].fail_first = 100
    with pytest.raises(Exception, match="HTTP 500"):
        result.get(timeout=60)
    # then the staging directory, partial and all, is gone
    assert not partial.parent.exists(), sorted(p.name for p in partial.parent.iterdir())


@pytest.mark.parametrize(
    ("path", "kwargs", "expected", "argument"),
    [
        ("/pub/data.bin", {"sha256": "abc"}, "invalid argument 'sha256'", "sha256"),
        ("/pub/data.bin", {"dest": "../../etc"}, "invalid argument 'dest'", "dest"),
        ("/pub/data.bin", {"filename": "a/b"}, "invalid argument 'filename'", "filename"),
        ("/pub/data.bin", {"max_bytes": 1024}, "max_bytes", None),
        ("/pub/data.bin", {"sha256": "0" * 64}, "sha256 is", None),
        ("/missing.bin", {}, "HTTP 404", None),
    ],
)
def test_bad_input_fails_at_once_and_is_dead_lettered(
    start_worker,
    env,
    client_app: Celery,
    server: LoopbackServer,
    pg_url: str,
    path,
    kwargs,
    expected,
    argument,
):
    # given a worker and a file
    start_worker(["downloads"])
    server.resources["/pub/data.bin"] = Resource(BODY)
    # when the task gets a bad argument, or the file does not match what was asked
    result = send(client_app, server.url(path), **kwargs)
    # then it fails once, permanently, and the dead letter says why
    with pytest.raises(Exception, match=expected):
        result.get(timeout=60)
    letter = wait_for(lambda: deadletter.get(pg_url, result.id))
    assert (letter.reason, letter.attempts) == ("permanent", 1)
    assert argument is None or argument in letter.exception
    final = Path(env["HAULER_DATA_DIR"]) / "downloads" / "data.bin"
    assert not final.exists()


def test_private_addresses_are_refused_without_the_allow_list(
    start_worker, hauler_env, client_app: Celery, server: LoopbackServer, pg_url: str
):
    # given a worker with the default SSRF guard (nothing allow-listed)
    start_worker(["downloads"])
    server.resources["/secret"] = Resource(b"internal")
    # when a link points at loopback, then it is refused for good
    result = send(client_app, server.url("/secret"))
    with pytest.raises(Exception, match="non-public address"):
        result.get(timeout=60)
    assert server.resources["/secret"].hits == 0
    assert wait_for(lambda: deadletter.get(pg_url, result.id)).reason == "permanent"
    # and an unsupported scheme or a cloud share is refused the same way
    for url in ("gopher://127.0.0.1/x", "https://drive.google.com/file/d/abc/view"):
        with pytest.raises(Exception, match=r"not supported|unsupported"):
            send(client_app, url).get(timeout=60)


def test_then_chains_a_thumbnail_under_the_same_correlation_id(
    start_worker, env, client_app: Celery, server: LoopbackServer, recorder, pg_url: str
):
    # given workers for downloads and media, and an image on the server
    start_worker(["downloads", "media"], concurrency=2)
    image = io.BytesIO()
    Image.new("RGB", (640, 480), (200, 30, 30)).save(image, "PNG")
    server.resources["/cat.png"] = Resource(image.getvalue())
    # when one enqueue asks for the download and then a thumbnail of it
    step = {"task": "media.thumbnail", "kwargs": {"width": 64}, "options": {"queue": "media"}}
    result = client_app.send_task(
        "downloads.fetch",
        args=[server.url("/cat.png")],
        kwargs={"then": [step]},
        queue="downloads",
        headers={"hauler_correlation_id": "chain-1"},
    )
    fetched = result.get(timeout=60)
    thumb = client_app.AsyncResult(fetched["then"]).get(timeout=60)
    # then the thumbnail is of the downloaded file
    assert thumb["kind"] == "image" and (thumb["width"], thumb["height"]) == (64, 48)

    # and the whole chain is one timeline under the caller's correlation id
    def both() -> set[str]:
        names = {r.task_name for r in activity.timeline(pg_url, "chain-1") if r.status == "SUCCESS"}
        return names if {"downloads.fetch", "media.thumbnail"} <= names else set()

    wait_for(both, timeout=30)
    events = [r.event_type for r in activity.timeline(pg_url, "chain-1")]
    assert "download.client-chosen" in events and "download.finished" in events
    chosen = next(
        r for r in activity.timeline(pg_url, "chain-1") if r.event_type == "download.client-chosen"
    )
    assert json.loads(json.dumps(chosen.payload))["client"] == "http"


def test_then_chains_an_upload_of_the_downloaded_file(
    start_worker, env, client_app: Celery, server: LoopbackServer
):
    # given workers for downloads and uploads
    start_worker(["downloads", "uploads"], concurrency=2)
    server.resources["/pub/data.bin"] = Resource(BODY)
    outbox = Path(env["HAULER_DATA_DIR"]) / "outbox"
    outbox.mkdir(parents=True)
    # when one enqueue downloads the file and then pushes it to a file:// destination
    step = {"task": "uploads.push", "kwargs": {"destination": outbox.as_uri() + "/"}}
    fetched = send(client_app, server.url("/pub/data.bin"), then=[step]).get(timeout=60)
    pushed = client_app.AsyncResult(fetched["then"]).get(timeout=60)
    # then the uploaded copy has the downloaded file's bytes and checksum
    assert pushed["sha256"] == fetched["sha256"] == SHA
    assert (outbox / "data.bin").read_bytes() == BODY
