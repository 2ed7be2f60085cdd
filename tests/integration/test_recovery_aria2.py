"""Recovery against a real aria2c: a 503 then 200 is retried and recovered; a 404 is not
retried and is given up with aria2's own words; a full disk pauses aria2 until there is
room. Recovery runs in a real worker (``recovery.recover``), its waits scheduled."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from hauler.deadletter import list_letters
from hauler.downloads import client_pause
from hauler.downloads.clients.aria2 import Aria2Client
from hauler.downloads.clients.jobs import JobState
from hauler.recovery import records, settle
from hauler.store.db import session_scope
from hauler.store.recovery_models import RecoveryAttempt
from hauler.transfers import store
from tests.integration.http_server import LoopbackServer, Resource
from tests.integration.recovery_support import hand_off, job_in, recover_kwargs, wait_for
from tests.integration.torrent_peers import Aria2Peer, aria2_peer

pytestmark = pytest.mark.integration
__all__ = ["aria2_peer"]

BODY = os.urandom(256 * 1024)


@pytest.fixture
def env(hauler_env: dict[str, str], aria2_peer: Aria2Peer) -> dict[str, str]:
    return {
        **hauler_env,
        "HAULER_DOWNLOADS_ARIA2_URL": aria2_peer.url,
        "HAULER_DOWNLOADS_ARIA2_SECRET": aria2_peer.secret,
        "HAULER_RECOVERY_BACKOFF": "0.2",
        "HAULER_RECOVERY_BACKOFF_MAX": "1",
        "HAULER_RECOVERY_DISK_CHECK_SECONDS": "0.3",
        "HAULER_RECOVERY_RESUME_FREE_BYTES": str(2 * 1024 * 1024),
    }


@pytest.fixture
def settings(env):
    from hauler.settings import Settings

    return Settings.from_env(env)


@pytest.fixture
def aria2(aria2_peer: Aria2Peer) -> Iterator[Aria2Client]:
    client = Aria2Client(aria2_peer.url, aria2_peer.secret, poll_interval=0.1, settle_timeout=5)
    yield client
    client.rpc.call("unpauseAll")  # a failed disk-full test must not leave aria2 paused


@pytest.fixture
def worker(start_worker, env):
    return start_worker(["recovery"], name="recover", env=env)


def test_a_503_then_200_is_retried_in_aria2_and_recovered(
    server: LoopbackServer, settings, aria2, worker, client_app
):
    # given a transfer aria2 stopped on a 503 (aria2 errorCode 29, HTTP_SERVICE_UNAVAILABLE)
    server.resources["/busy.bin"] = Resource(BODY, fail_first=1, fail_status=503)
    transfer, _ = hand_off(settings, aria2, server.url("/busy.bin"))
    failed = wait_for("aria2 to fail", lambda: job_in(aria2, transfer.job_id, JobState.FAILED))
    assert failed.details["errorCode"] == "29"
    assert failed.message == "The response status is not successful. status=503"

    # when the watch hands it to recovery
    answer = client_app.send_task(
        "recovery.recover", kwargs=recover_kwargs(transfer, failed), queue="recovery"
    ).get(timeout=30)

    # then a retry is scheduled (not slept), runs, and aria2 downloads it again
    assert answer["outcome"] == "scheduled" and answer["strategy"] == "retry"
    assert 0.1 <= answer["countdown"] <= 0.2
    done = wait_for(
        "aria2 to finish the retry", lambda: job_in(aria2, transfer.job_id, JobState.COMPLETED)
    )
    assert done.bytes_done == len(BODY)
    url = settings.database_url
    assert store.by_id(url, transfer.id).attempts == 2  # rebound: one more attempt
    failure = records.latest_for_transfer(url, transfer.id)
    assert (failure.category, failure.state, failure.strategy) == ("network", "recovering", "retry")
    assert failure.message == "The response status is not successful. status=503"
    # and once the watch has finished it, the recovery is settled as recovered
    store.finish(url, transfer.id, {"path": done.path, "bytes": done.bytes_done}, None)
    assert settle.transfer_ended(settings, transfer.id) == {
        "failure_id": failure.id,
        "outcome": "recovered",
    }
    with session_scope(url) as session:
        attempts = list(session.scalars(select(RecoveryAttempt)))
    assert [(a.strategy, a.number, a.outcome) for a in attempts] == [("retry", 1, "recovered")]


def test_a_404_is_not_retried_and_is_given_up_in_aria2s_words(
    server: LoopbackServer, settings, aria2, worker, client_app
):
    # given a transfer aria2 stopped on a 404 (errorCode 3, "Resource not found")
    server.resources["/gone.bin"] = Resource(b"", status=404)
    transfer, _ = hand_off(settings, aria2, server.url("/gone.bin"))
    failed = wait_for("aria2 to fail", lambda: job_in(aria2, transfer.job_id, JobState.FAILED))
    assert failed.details["errorCode"] == "3"

    # when recovery runs
    answer = client_app.send_task(
        "recovery.recover", kwargs=recover_kwargs(transfer, failed), queue="recovery"
    ).get(timeout=30)

    # then nothing is retried: the download is given up with the category and aria2's text
    assert answer["outcome"] == "gave-up" and answer["category"] == "not-found"
    assert failed.message in answer["message"]
    assert server.resources["/gone.bin"].hits == 1
    url = settings.database_url
    assert store.by_id(url, transfer.id).state == store.GAVE_UP
    failure = records.latest_for_transfer(url, transfer.id)
    assert (failure.state, failure.strategy) == ("gave-up", "give-up")
    # the task the caller waits for ends FAILURE with that error, and is dead-lettered
    result = client_app.AsyncResult(transfer.task_id)
    with pytest.raises(Exception, match="not-found"):
        result.get(timeout=10, propagate=True)
    letters = [letter for letter in list_letters(url) if letter.task_id == transfer.task_id]
    assert letters and "not-found" in letters[0].exception


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 1 MiB tmpfs (root only); skipped where it cannot be mounted."""
    folder = tmp_path / "tmpfs"
    folder.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "recover-tmpfs", str(folder)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    yield folder
    subprocess.run(["umount", "-l", str(folder)], check=False)


def test_a_full_disk_pauses_the_client_and_resumes_it_when_there_is_room(
    server: LoopbackServer, settings, aria2, aria2_peer, worker, client_app, small_disk, redis_url
):
    import redis

    # given a 3 MiB download into a 1 MiB tmpfs: aria2 stops with errorCode 9
    server.resources["/big.bin"] = Resource(os.urandom(3 * 1024 * 1024))
    from dataclasses import replace

    cramped = replace(settings, staging_dir=small_disk)
    transfer, _ = hand_off(cramped, aria2, server.url("/big.bin"))
    failed = wait_for("aria2 to fail", lambda: job_in(aria2, transfer.job_id, JobState.FAILED))
    assert failed.details["errorCode"] == "9"  # NOT_ENOUGH_DISK_SPACE

    # when recovery runs while the disk is still full
    answer = client_app.send_task(
        "recovery.recover", kwargs=recover_kwargs(transfer, failed), queue="recovery"
    ).get(timeout=30)

    # then aria2 is paused and out of selection, and re-checked on a schedule
    assert answer["outcome"] == "paused"
    store_ = redis.Redis.from_url(redis_url)
    assert client_pause.paused(store_, "aria2")["reason"] == "disk full"
    # and when there is room again (the download is made to fit: the big file goes away)
    server.resources["/big.bin"] = Resource(os.urandom(256 * 1024))
    for leftover in [p for p in small_disk.rglob("*") if p.is_file()]:
        leftover.unlink()
    wait_for("aria2 to resume", lambda: client_pause.paused(store_, "aria2") is None, 30)
    done = wait_for(
        "the job to complete", lambda: job_in(aria2, transfer.job_id, JobState.COMPLETED), 30
    )
    assert done.bytes_done == 256 * 1024
    failure = records.latest_for_transfer(settings.database_url, transfer.id)
    assert (failure.category, failure.strategy) == ("disk-full", "resume")
