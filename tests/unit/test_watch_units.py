"""The watch's pure parts: the status mapping, aria2's job families, what a request keeps."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
import requests

from hauler.downloads.clients.aria2 import as_jobs, gid_for
from hauler.downloads.clients.base import Job
from hauler.downloads.clients.follow import find, too_large
from hauler.downloads.clients.jobs import ClientJob, JobState
from hauler.downloads.links import classify
from hauler.errors import PermanentError, RetryableError
from hauler.httpstatus import request_error, retryable_status, status_error
from hauler.transfers import canvas
from hauler.transfers.handover import recovery_arguments


@pytest.mark.parametrize(
    ("status", "retry"),
    [(408, True), (425, True), (429, True), (500, True), (503, True), (599, True),
     (400, False), (401, False), (403, False), (404, False), (410, False), (451, False)],
)  # fmt: skip
def test_one_status_mapping_for_every_client(status: int, retry: bool) -> None:
    assert retryable_status(status) is retry
    error = status_error(status, f"HTTP {status}")
    assert isinstance(error, RetryableError if retry else PermanentError)
    assert status_error(204, "fine") is None and status_error(302, "moved") is None


def test_connection_failures_and_timeouts_retry_other_request_errors_do_not() -> None:
    assert isinstance(request_error(requests.ConnectionError(), "x"), RetryableError)
    assert isinstance(request_error(requests.ReadTimeout(), "x"), RetryableError)
    assert isinstance(request_error(requests.exceptions.InvalidURL(), "x"), PermanentError)
    assert isinstance(request_error(requests.TooManyRedirects(), "x"), PermanentError)


def _status(gid: str, state: str, **extra: object) -> dict[str, object]:
    return {
        "gid": gid,
        "status": state,
        "totalLength": "100",
        "completedLength": "40",
        "downloadSpeed": "10",
        "dir": "/staging/t1",
        "files": [{"path": "/staging/t1/a.bin"}],
        **extra,
    }


def test_aria2_reports_a_magnet_and_its_download_as_one_job_under_the_first_gid() -> None:
    root = gid_for("hauler-t1")
    metadata = _status(root, "complete", followedBy=["f00d"], files=[{"path": "[METADATA]abc"}])
    follower = _status("f00d", "active", following=root)
    jobs = as_jobs([metadata, follower], Path("/staging"))
    assert len(jobs) == 1
    job = jobs[0]
    assert (job.job_id, job.state, job.bytes_done, job.tag) == (
        root,
        JobState.DOWNLOADING,
        40,
        "hauler-t1",
    )


def test_aria2_a_magnet_whose_metadata_is_in_but_not_its_download_is_still_downloading() -> None:
    root = gid_for("hauler-t1")
    (job,) = as_jobs([_status(root, "complete", followedBy=["gone"])], Path("/staging"))
    assert job.state is JobState.DOWNLOADING


def test_aria2_errors_keep_the_code_and_message_and_foreign_jobs_have_no_tag() -> None:
    failed = _status("abcd", "error", errorCode="3", errorMessage="Resource not found")
    (job,) = as_jobs([failed], Path("/staging"))
    assert (job.state, job.status, job.message, job.tag) == (
        JobState.FAILED,
        "error/3",
        "Resource not found",
        None,
    )
    assert job.details["errorCode"] == "3"


def test_finding_a_job_by_id_first_then_by_tag_and_the_size_limit() -> None:
    jobs = [
        ClientJob("sabnzbd", "nzo_new", JobState.QUEUED, "Queued", tag="hauler-a"),
        ClientJob("sabnzbd", "nzo_b", JobState.QUEUED, "Queued", tag="hauler-b",
                  bytes_total=2000, details={"least_bytes": "1900"}),
    ]  # fmt: skip
    assert find(jobs, "nzo_old", "hauler-a") is jobs[0]  # a retry gave a new nzo_id
    assert find(jobs, None, "hauler-c") is None
    job = Job(classify("https://x.invalid/a.nzb"), Path("/w"), "hauler-b", max_bytes=1950)
    assert too_large(jobs[1], job) is None  # 1900 decoded bytes at least: fits
    assert too_large(jobs[1], Job(job.link, job.workdir, job.tag, max_bytes=1800)) is not None


def test_the_canvas_kept_from_a_request_is_json_and_what_the_backend_needs() -> None:
    request = SimpleNamespace(
        id="t1",
        task="downloads.fetch",
        root_id="r1",
        parent_id=None,
        group="g1",
        group_index=0,
        chord={"task": "tests.note"},
        chain=[{"task": "tests.note"}],
        callbacks=None,
        errbacks=[{"task": "tests.note"}],
        delivery_info={"routing_key": "downloads", "priority": 3, "exchange": "x"},
    )
    kept = canvas.capture(request, {"url": "https://x.invalid/a"})
    assert kept["chain"] == [{"task": "tests.note"}] and kept["group_index"] == 0
    assert kept["delivery_info"] == {"routing_key": "downloads", "priority": 3, "is_eager": False}
    context = canvas.context(kept)
    assert (context.group, context.chord, context.kwargs) == (
        "g1",
        {"task": "tests.note"},
        {"url": "https://x.invalid/a"},
    )


def test_recovery_gets_the_client_job_in_the_clients_own_words() -> None:
    transfer = SimpleNamespace(id=7, task_id="t1", attempts=1)
    found = ClientJob(
        "nzbget", "42", JobState.FAILED, "FAILURE/PAR", message="FAILURE/PAR; 4 of 40",
        details={"ParStatus": "FAILURE"},
    )  # fmt: skip
    assert recovery_arguments(transfer, found, "failed") == {  # type: ignore[arg-type]
        "transfer_id": 7,
        "task_id": "t1",
        "client": "nzbget",
        "job_id": "42",
        "state": "failed",
        "status": "FAILURE/PAR",
        "message": "FAILURE/PAR; 4 of 40",
        "details": {"ParStatus": "FAILURE"},
        "attempts": 1,
    }
