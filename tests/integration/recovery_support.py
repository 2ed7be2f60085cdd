"""Shared pieces of the recovery tests: a transfer handed to a real client, and waits."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from hauler.downloads.clients.base import HandOffClient, Job
from hauler.downloads.clients.jobs import ClientJob, JobState
from hauler.downloads.links import classify
from hauler.settings import Settings
from hauler.store.transfers_models import Transfer
from hauler.transfers import store
from hauler.transfers.handover import recovery_arguments

T = TypeVar("T")


def wait_for(what: str, probe: Callable[[], T | None], timeout: float = 30.0) -> T:
    """The first truthy answer of ``probe``, polled until ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def hand_off(
    settings: Settings, client: HandOffClient, url: str, *, details: dict[str, Any] | None = None
) -> tuple[Transfer, Job]:
    """What ``downloads.fetch`` does for an external client: a transfer row and a submit."""
    task_id = str(uuid.uuid4())
    workdir = settings.staging_dir / task_id
    workdir.mkdir(parents=True, exist_ok=True)
    link = classify(url)
    job = Job(link, workdir, tag=f"hauler-{task_id}")
    submitted = client.submit(job)
    transfer, _ = store.create(
        settings.database_url,
        store.NewTransfer(
            task_id=task_id,
            client=client.name,
            job_id=submitted.job_id,
            tag=job.tag,
            url=url,
            shown=link.shown,
            dest=str(settings.download_dir),
            workdir=str(workdir),
            correlation_id=task_id,
            details=dict(details or {}),
        ),
    )
    return transfer, job


def job_in(client: HandOffClient, job_id: str, *states: JobState) -> ClientJob | None:
    """The client's job ``job_id`` when it is in one of ``states``."""
    for job in client.jobs():
        if job.job_id == job_id and job.state in states:
            return job
    return None


def recover_kwargs(transfer: Transfer, found: ClientJob, state: str = "failed") -> dict[str, Any]:
    """``recovery.recover``'s arguments as the watch sends them."""
    return recovery_arguments(transfer, found, state)


def settings_for(env: dict[str, str]) -> Settings:
    return Settings.from_env(env)


def staged(settings: Settings) -> Path:
    settings.staging_dir.mkdir(parents=True, exist_ok=True)
    return settings.staging_dir
