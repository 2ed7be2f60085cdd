"""The download client Protocol and the types every client shares."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path
from typing import Protocol

from hauler.downloads.links import Link
from hauler.errors import PermanentError, RetryableError
from hauler.progress import ProgressFn


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


@dataclass(frozen=True)
class Finished:
    """What a client produced: a file (or a directory, for multi-file torrents)."""

    path: Path
    bytes: int
    sha256: str | None = None  # when the client computed it while streaming


class ClientFailed(PermanentError):
    """Raised when a client reports the transfer failed for good (bad link, missing data)."""


class TooLarge(PermanentError):
    """Raised when a download is (or turns out to be) larger than ``max_bytes``."""


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

    def download(self, job: Job, progress: ProgressFn) -> Finished:
        """Download ``job`` into ``job.workdir``, reporting progress; block until done.

        Raises:
            ClientFailed / PermanentError: the link cannot be downloaded.
            ClientUnavailable / RetryableError: try again later.
        """
        ...
