"""Following one handed-off job to its end in the calling thread: submit, poll, collect.

Production never blocks on an external client — ``downloads.fetch`` submits and the watch
finishes — but a caller that wants the old blocking call (a script, the client contract
tests) gets it here, from the same four Protocol methods the watch uses.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from hauler.downloads.clients import staging
from hauler.downloads.clients.base import ClientUnavailable, Finished, HandOffClient, Job
from hauler.downloads.clients.jobs import ClientJob, JobState
from hauler.errors import HaulerError, RetryableError, TooLarge
from hauler.progress import Progress, ProgressFn

MISSES = 3  # passes in a row that find the job nowhere before giving up
#: What a caller waiting on a job sees when the client says it failed.
FailureFn = Callable[[ClientJob], HaulerError]


def find(jobs: list[ClientJob], job_id: str | None, tag: str) -> ClientJob | None:
    """The job with ``job_id`` (when known), else the one labelled ``tag``."""
    for found in jobs:
        if (job_id and found.job_id == job_id) or (found.tag == tag and tag):
            return found
    return None


def too_large(found: ClientJob, job: Job) -> TooLarge | None:
    """The error when the job turns out larger than ``job.max_bytes``, else None."""
    least = found.details.get("least_bytes")  # a Usenet job's posted bytes decode smaller
    size = int(least) if least else max(found.bytes_total or 0, found.bytes_done)
    if job.max_bytes is not None and size > job.max_bytes:
        return TooLarge(f"{job.link.shown} is {size} bytes, more than max_bytes={job.max_bytes}")
    return None


def follow(
    client: HandOffClient,
    job: Job,
    progress: ProgressFn,
    failure: FailureFn,
    poll_interval: float = 1.0,
) -> Finished:
    """Submit ``job`` to ``client`` and wait for it: its collected result.

    Raises:
        whatever ``submit`` raises; ``failure(found)`` when the client says the job
        failed; TooLarge past ``job.max_bytes``; ClientUnavailable when the job vanished.
    """
    submitted = client.submit(job)
    job_id: str | None = submitted.job_id
    if submitted.details:
        from dataclasses import replace

        job = replace(job, details={**job.details, **submitted.details})
    misses = 0
    while True:
        found = find(client.jobs(), job_id, job.tag)
        if found is None:
            misses += 1
            if misses >= MISSES:
                raise ClientUnavailable(
                    f"{client.name} lost {job.tag}: it is neither queued nor in the history"
                )
            time.sleep(poll_interval)
            continue
        misses, job_id = 0, found.job_id
        error = too_large(found, job)
        if error is not None:
            client.remove(found, delete_files=True)
            staging.empty(job.workdir)
            raise error
        if found.state is JobState.COMPLETED:
            finished = client.collect(job, found)
            progress(Progress(finished.bytes, finished.bytes, found.rate or 0.0))
            return finished
        if found.state in (JobState.FAILED, JobState.DELETED):
            exc = failure(found)
            client.remove(found, delete_files=True)
            if not isinstance(exc, RetryableError):
                staging.empty(job.workdir)  # a retryable failure keeps the partial data
            raise exc
        progress(Progress(found.bytes_done, found.bytes_total, found.rate or 0.0))
        time.sleep(poll_interval)
