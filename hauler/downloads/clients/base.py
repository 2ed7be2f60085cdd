"""The download client Protocols and the types every client shares.

Two kinds of client: the in-process HTTP client *streams* (``download`` blocks in the
task until the file is there); the external clients (aria2, qBittorrent, NZBGet,
SABnzbd) are *handed* the job (``submit`` returns at once) and are then read in one pass
for all their jobs (``jobs``) by the watch, which ``collect``s what completed and
``remove``s what is done with.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import IntEnum
from pathlib import Path
from typing import Any, Protocol, TypeGuard, runtime_checkable

from hauler.downloads.clients.jobs import ClientJob
from hauler.downloads.links import Link
from hauler.errors import HaulerError, PermanentError, RetryableError, TooLarge
from hauler.progress import ProgressFn

__all__ = ["TooLarge"]  # lives in hauler.errors; kept importable from here


class Affinity(IntEnum):
    """How well a client suits a kind of link (higher is better)."""

    INCOMPATIBLE = 0
    COMPATIBLE = 1
    SPECIALIST = 2


@dataclass(frozen=True)
class Job:
    """One download to perform."""

    link: Link
    workdir: Path  # an empty directory of the client's own for this job (staging)
    tag: str  # unique per task; clients label their transfers with it
    max_bytes: int | None = None
    filename: str | None = None  # wanted name for single-file downloads (sanitised)
    details: Mapping[str, Any] = field(default_factory=dict)  # what ``submit`` returned


@dataclass(frozen=True)
class Submitted:
    """What a client answered to ``submit``: its id for the job, and what ``collect`` needs."""

    job_id: str  # aria2 gid, qBittorrent info hash, NZBGet NZBID, SABnzbd nzo_id
    details: Mapping[str, Any] = field(default_factory=dict)  # kept on the transfer row
    attached: bool = False  # the client had this tag's job already: nothing was added


@dataclass(frozen=True)
class Finished:
    """What a client produced: a file (or a directory, for multi-file torrents)."""

    path: Path
    bytes: int
    sha256: str | None = None  # when the client computed it while streaming


class ClientFailed(PermanentError):
    """Raised when a client reports the transfer failed for good (bad link, missing data)."""


class ClientUnavailable(RetryableError):
    """Raised when a client cannot be reached or refuses work for now."""


class DownloadClient(Protocol):
    """A way to download: in-process HTTP, aria2, qBittorrent, NZBGet or SABnzbd."""

    name: str

    def affinity(self, link: Link) -> Affinity:
        """How well this client handles ``link``."""
        ...

    def healthy(self) -> bool:
        """True when the client answers now."""
        ...


@runtime_checkable
class StreamingClient(DownloadClient, Protocol):
    """A client that moves the bytes inside the task (the in-process HTTP client)."""

    def download(self, job: Job, progress: ProgressFn) -> Finished:
        """Download ``job`` into ``job.workdir``, reporting progress; block until done.

        Raises:
            ClientFailed / PermanentError: the link cannot be downloaded.
            ClientUnavailable / RetryableError: try again later.
        """
        ...


@runtime_checkable
class HandOffClient(DownloadClient, Protocol):
    """A program that downloads on its own; Hauler hands it jobs and reads their state."""

    def submit(self, job: Job) -> Submitted:
        """Hand ``job`` over, labelled ``job.tag``; return at once.

        Idempotent by tag: when the client already has a usable job under ``job.tag``
        (a redelivered or retried task), that one is returned (``attached=True``) and
        nothing is added. A failed or misplaced job under the tag is removed and the job
        added afresh.

        Raises:
            ClientFailed / PermanentError: the client refuses the link, or it is too large.
            ClientUnavailable / RetryableError: try again later.
        """
        ...

    def jobs(self) -> list[ClientJob]:
        """Every job the client lists now, queue and history, Hauler's (``tag`` set) and
        foreign ones, in one pass of one or two API calls — never one call per job.

        Raises:
            ClientUnavailable / RetryableError: the client cannot be read now.
            PermanentError: it refuses the credentials.
        """
        ...

    def collect(self, job: Job, found: ClientJob) -> Finished:
        """Take the content of ``found`` (COMPLETED) into ``job.workdir`` and drop the job
        from the client (its files stay with Hauler).

        Raises:
            ClientFailed: the content is not what the job needs (missing, incomplete,
                outside the work directory); TooLarge: more than ``job.max_bytes``.
        """
        ...

    def remove(self, found: ClientJob, *, delete_files: bool) -> None:
        """Drop ``found`` from the client (queue or history), with its files if asked (files
        in the job's work directory are the caller's to delete)."""
        ...

    def failure(self, found: ClientJob) -> HaulerError:
        """The error a caller waiting for ``found`` (FAILED or DELETED) would see: permanent
        when no retry of the same job can help, else retryable; in the client's words."""
        ...


def hands_off(client: DownloadClient) -> TypeGuard[HandOffClient]:
    """True for a client that is handed jobs (not one that streams in the task)."""
    return isinstance(client, HandOffClient)
