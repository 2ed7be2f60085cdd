"""Recovery against a real aria2c: a 503 then 200 is retried and recovered; a 404 is not
retried and is given up with aria2's own words; a full disk pauses aria2 until there is
room. Recovery runs in a real worker (``recovery.recover``), its waits scheduled."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from sqlalchemy import select

from hauler import activity
from hauler.deadletter import list_letters
from hauler.downloads import client_pause
from hauler.downloads.clients.aria2 import Aria2Client
from hauler.downloads.clients.jobs import JobState
from hauler.recovery import monitoring, records
from hauler.recovery.recover import Report, recover
from hauler.store.db import session_scope
from hauler.store.recovery_models import RecoveryAttempt
from hauler.transfers import store
from tests.integration.http_server import LoopbackServer, Resource
from tests.integration.recovery_support import hand_off, job_in, recover_kwargs, wait_for
from tests.integration.torrent_peers import Aria2Peer, aria2_peer
from tests.support.arr_double import ArrDouble
from tests.support.watching import watching

pytestmark = pytest.mark.integration
__all__ = ["aria2_peer"]

BODY = os.urandom(256 * 1024)


@pytest.fixture
def env(hauler_env: dict[str, str], aria2_peer: Aria2Peer) -> dict[str, str]:
    return {
        **hauler_env,
        "HAULER_DOWNLOADS_ARIA2_URL": aria2_peer.url,
        "HAULER_DOWNLOADS_ARIA2_SECRET": aria2_peer.secret,
        "HAULER_DOWNLOADS_ALLOW_NETWORKS": "127.0.0.1/32",
        "HAULER_SCHEDULE_WATCH": "0.5",
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
    client.rpc.call("purgeDownloadResult")  # the next test sees only its own jobs


@pytest.fixture
def worker(start_worker, env):
    return start_worker(["recovery"], name="recover", env=env)


def test_a_503_then_200_is_retried_in_aria2_and_recovered(
    server: LoopbackServer, env, settings, start_worker, client_app, recorder, hauler_env
):
    # given Hauler with aria2, the watch and recovery on one worker, and a source that
    # answers 503 twice — to Hauler's redirect check, then to aria2 (which stops: errorCode
    # 29 HTTP_SERVICE_UNAVAILABLE) — and then 200
    server.resources["/busy.bin"] = Resource(BODY, fail_first=2, fail_status=503)
    start_worker(["downloads", "polling", "recovery"], name="all", env=env)
    # when a caller fetches it through aria2 and waits, as any Celery client would
    with watching(client_app):
        handed = client_app.send_task(
            "downloads.fetch",
            args=[server.url("/busy.bin")],
            kwargs={"client": "aria2"},
            queue="downloads",
        )
        result = handed.get(timeout=60)
    # then the download ends well: the watch handed the failure over, recovery scheduled
    # a retry in aria2, and the watch finished the retried job
    assert result["bytes"] == len(BODY) and result["client"] == "aria2"
    assert server.resources["/busy.bin"].hits == 3
    url = settings.database_url
    transfer = store.get(url, handed.id)
    assert transfer.attempts == 2 and transfer.state == store.DONE
    failure = records.latest_for_transfer(url, transfer.id)
    assert (failure.category, failure.state, failure.strategy) == ("network", "recovered", "retry")
    assert failure.message == "The response status is not successful. status=503"
    assert failure.rule == "aria2 release-1.36.0 src/error_code.h:75 HTTP_SERVICE_UNAVAILABLE"
    with session_scope(url) as session:
        attempts = list(session.scalars(select(RecoveryAttempt)))
    assert [(a.strategy, a.number, a.outcome) for a in attempts] == [("retry", 1, "recovered")]
    # and the download's timeline tells it, under its own correlation id
    wanted = ["download.failed", "recovery.retry-started", "recovery.recovered"]

    def timeline() -> list[str] | None:
        kinds = [row.event_type for row in activity.timeline(url, handed.id)]
        return kinds if all(k in kinds for k in wanted) else None

    kinds = wait_for("the recovery events", timeline, 20)
    assert [k for k in kinds if k in wanted] == wanted
    rows = {r.event_type: r for r in activity.timeline(url, handed.id)}
    assert rows["download.failed"].payload["category"] == "network"
    started = rows["recovery.retry-started"]
    assert started.causation_id == handed.id  # caused by the download's own task
    assert (started.payload["strategy"], started.payload["attempt"]) == ("retry", 1)
    # and the recorder's metrics count the failure and the recovery
    port = hauler_env["HAULER_RECORDER_PORT"]
    text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    assert 'hauler_download_failures_total{category="network",client="aria2"} 1.0' in text
    assert 'hauler_recoveries_total{outcome="recovered",strategy="retry"} 1.0' in text


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
    failure = wait_for(
        "the resumed retry to be recorded",
        lambda: (
            (f := records.latest_for_transfer(settings.database_url, transfer.id))
            and f.strategy == "resume"
            and f
        ),
    )
    assert (failure.category, failure.state) == ("disk-full", "recovering")


@pytest.fixture
def sonarr() -> Iterator[ArrDouble]:
    double = ArrDouble(api_key="sonarr-key-0123456789").start()
    yield double
    double.stop()


def foreign_job(aria2: Aria2Client, url: str, folder: Path) -> str:
    """A job someone else (Sonarr, a bot) added to aria2: no Hauler tag."""
    folder.mkdir(parents=True, exist_ok=True)
    return str(aria2.rpc.call("addUri", [url], {"dir": str(folder)}))


def test_polling_hands_a_failed_foreign_job_to_the_sonarr_that_grabbed_it(
    server: LoopbackServer, env, aria2, sonarr: ArrDouble, tmp_path: Path, hauler_cli
):
    # given a foreign aria2 job that fails with a 404, which Sonarr's queue lists
    server.resources["/episode.mkv"] = Resource(b"", status=404)
    gid = foreign_job(aria2, server.url("/episode.mkv"), tmp_path / "sonarr")
    wait_for("aria2 to fail", lambda: job_in(aria2, gid, JobState.FAILED))
    sonarr.records = [{"id": 7, "downloadId": gid.upper(), "episodeId": 42, "title": "S01E01"}]
    from hauler.settings import Settings

    settings = Settings.from_env(
        {
            **env,
            "HAULER_RECOVERY_FOREIGN": "recover",
            "HAULER_ARR_SONARR_URL": sonarr.url,
            "HAULER_ARR_SONARR_API_KEY": sonarr.api_key,
        }
    )
    outcomes: list[dict] = []

    def hand_over(report: Report, correlation: str | None) -> None:
        outcomes.append(recover(settings, report, lambda *a: None, clients=[aria2]))

    # when failure polling passes over aria2 (twice: the second pass sees nothing new)
    first = monitoring.poll(settings, [aria2], hand_over)
    second = monitoring.poll(settings, [aria2], hand_over)

    # then the job is monitored, its failure classified, and Sonarr told to blocklist it
    # (DELETE /api/v3/queue/7?blocklist=true) and search again (EpisodeSearch)
    assert [f["job_id"] for f in first.failed] == [gid] and second.failed == []
    assert outcomes == [{"outcome": "recovered", "strategy": "arr", "note": outcomes[0]["note"]}]
    deletes = [c for c in sonarr.calls if c["method"] == "DELETE"]
    assert deletes[0]["path"] == "/api/v3/queue/7"
    assert deletes[0]["query"]["blocklist"] == "true"
    commands = [c["body"] for c in sonarr.calls if c["method"] == "POST"]
    assert commands == [{"name": "EpisodeSearch", "episodeIds": [42]}]
    assert {c["key"] for c in sonarr.calls} == {sonarr.api_key}
    (row,) = monitoring.monitored(settings.database_url, client="aria2")
    assert (row.job_id, row.state, row.failure_category) == (gid, "failed", "not-found")
    failure = records.get(settings.database_url, row.failure_id)
    assert (failure.state, failure.strategy, failure.foreign_job) == ("recovered", "arr", True)
    # and `hauler failures --all` shows it, without the API key
    shown = hauler_cli("failures", "--all")
    assert shown.returncode == 0, shown.stderr
    assert gid[:16] in shown.stdout and "not-found" in shown.stdout and "arr" in shown.stdout
    assert sonarr.api_key not in shown.stdout + shown.stderr


def test_under_report_a_foreign_failure_is_recorded_and_nothing_is_touched(
    server: LoopbackServer, settings, aria2, tmp_path: Path
):
    # given a foreign aria2 job that fails (HAULER_RECOVERY_FOREIGN defaults to report)
    server.resources["/other.mkv"] = Resource(b"", status=404)
    gid = foreign_job(aria2, server.url("/other.mkv"), tmp_path / "bot")
    wait_for("aria2 to fail", lambda: job_in(aria2, gid, JobState.FAILED))
    outcomes: dict[str, dict] = {}

    def hand_over(report: Report, correlation: str | None) -> None:
        outcomes[report.job_id] = recover(settings, report, lambda *a: None, clients=[aria2])

    # when failure polling passes (aria2 may list other tests' foreign jobs too)
    monitoring.poll(settings, [aria2], hand_over)

    # then the failure is recorded as reported, and aria2 still has the failed job
    assert outcomes[gid] == {"outcome": "reported", "category": "not-found"}
    assert job_in(aria2, gid, JobState.FAILED) is not None
    assert server.resources["/other.mkv"].hits == 1


def test_a_404_with_a_mirror_is_fetched_from_the_mirror_and_checked_against_sha256(
    server: LoopbackServer, env, settings, start_worker, client_app
):
    import hashlib

    # given a source that is gone (404) and a mirror of the same content
    server.resources["/gone-here.bin"] = Resource(b"", status=404)
    server.resources["/mirror/same.bin"] = Resource(BODY)
    start_worker(["downloads", "polling", "recovery"], name="all", env=env)
    # when a caller fetches it with mirrors= and sha256=
    with watching(client_app):
        handed = client_app.send_task(
            "downloads.fetch",
            args=[server.url("/gone-here.bin")],
            kwargs={
                "client": "aria2",
                "mirrors": [server.url("/mirror/same.bin")],
                "sha256": hashlib.sha256(BODY).hexdigest(),
            },
            queue="downloads",
        )
        result = handed.get(timeout=60)
    # then recovery (not-found: never the same source again) handed the mirror to aria2
    assert result["sha256"] == hashlib.sha256(BODY).hexdigest()
    assert server.resources["/mirror/same.bin"].hits >= 1
    url = settings.database_url
    transfer = store.get(url, handed.id)
    assert transfer.url == server.url("/mirror/same.bin")
    failure = records.latest_for_transfer(url, transfer.id)
    assert (failure.category, failure.state, failure.strategy) == (
        "not-found",
        "recovered",
        "mirror",
    )


def test_a_foreign_job_that_keeps_failing_is_retried_at_most_three_times_with_growing_waits(
    server: LoopbackServer, env, aria2, tmp_path: Path
):
    from hauler.settings import Settings

    # given a foreign aria2 job whose source answers 503 every time, under recover
    server.resources["/always-busy.bin"] = Resource(BODY, fail_first=99, fail_status=503)
    gid = foreign_job(aria2, server.url("/always-busy.bin"), tmp_path / "bot")
    settings = Settings.from_env({**env, "HAULER_RECOVERY_FOREIGN": "recover"})
    waits: list[float] = []
    outcomes: list[dict] = []

    pending: list[Report] = []

    def schedule(kwargs: dict, countdown: float, _correlation: str | None) -> None:
        waits.append(countdown)
        pending.append(Report(**kwargs))

    def run(report: Report) -> None:
        pending.append(report)
        while pending:  # what the recovery queue does with the scheduled calls, in order
            outcomes.append(recover(settings, pending.pop(0), schedule, clients=[aria2]))

    # when failure polling passes each time aria2 has failed it again
    for _ in range(5):
        wait_for("aria2 to fail", lambda: job_in(aria2, gid, JobState.FAILED))
        monitoring.poll(settings, [aria2], lambda report, _c: run(report))
        if outcomes and outcomes[-1]["outcome"] == "gave-up":
            break

    # then it was retried three times, waiting longer each time (jittered), then given up
    retries = [o for o in outcomes if o["outcome"] == "retrying"]
    assert [o["attempt"] for o in retries] == [1, 2, 3]
    assert outcomes[-1]["outcome"] == "gave-up" and "3 of 3 attempts" in outcomes[-1]["message"]
    assert [round(w, 3) <= cap for w, cap in zip(waits, (0.2, 0.4, 0.8), strict=True)] == [True] * 3
    assert waits[1] >= 0.2 and waits[2] >= 0.4  # equal jitter: never shorter than d/2
    assert server.resources["/always-busy.bin"].hits == 4
    (row,) = [r for r in monitoring.monitored(settings.database_url) if r.job_id == gid]
    assert row.in_dlq


def test_a_stalled_aria2_transfer_is_stopped_and_added_again(
    server: LoopbackServer, settings, aria2
):
    # given a Hauler transfer aria2 is still "active" on, from a source that went silent
    server.resources["/frozen.bin"] = Resource(BODY, chunk_delay=60)
    transfer, _ = hand_off(settings, aria2, server.url("/frozen.bin"))
    active = wait_for(
        "aria2 to start", lambda: job_in(aria2, transfer.job_id, JobState.DOWNLOADING)
    )
    server.resources["/frozen.bin"] = Resource(BODY)  # the source answers properly again
    # when the watch calls it stalled and recovery's retry falls due
    scheduled: list[dict] = []
    kwargs = recover_kwargs(transfer, active, "stalled")
    kwargs.pop("attempts")  # the task's argument, not the domain's
    report = Report(**kwargs)
    first = recover(settings, report, lambda kw, _d, _c: scheduled.append(kw), clients=[aria2])
    assert (first["outcome"], first["category"]) == ("scheduled", "stalled")
    second = recover(settings, Report(**scheduled[0]), lambda *a: None, clients=[aria2])
    # then aria2 stopped the stuck transfer and fetched it again under the same GID
    assert second["outcome"] == "retrying" and second["job_id"] == transfer.job_id
    done = wait_for(
        "the re-added transfer", lambda: job_in(aria2, transfer.job_id, JobState.COMPLETED)
    )
    assert done.bytes_done == len(BODY)
