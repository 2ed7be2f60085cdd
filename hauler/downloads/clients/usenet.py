"""What the two Usenet clients (NZBGet, SABnzbd) share: .nzb links, the .nzb read and sized
before anything is added, the HTTP status of their APIs, and the blocking ``download``."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import requests

from hauler.downloads.clients.base import Affinity, ClientUnavailable, Finished, Job
from hauler.downloads.clients.collect import discard
from hauler.downloads.clients.follow import follow
from hauler.downloads.clients.jobs import ClientJob
from hauler.downloads.clients.nzbfile import read_nzb
from hauler.downloads.links import Link, LinkKind
from hauler.downloads.nzb import YENC_SHRINK, Nzb, least_size, parse
from hauler.errors import CredentialsRefused, HaulerError, PermanentError, TooLarge
from hauler.httpstatus import retryable_status
from hauler.progress import ProgressFn


def least_bytes(posted: int) -> int:
    """The fewest decoded bytes ``posted`` yEnc-encoded bytes can hold."""
    return int(posted * YENC_SHRINK)


class UsenetClient:
    """The base of NZBGet's and SABnzbd's clients; subclasses add the API calls.

    Subclasses set ``name``, ``peer`` (the program's name in messages), ``url_setting``,
    ``refused`` (their CredentialsRefused) and ``endpoint``, and implement ``ping``,
    ``submit``, ``jobs``, ``collect``, ``remove`` and ``failure``.
    """

    name = "usenet"
    peer = "Usenet client"
    url_setting = ""
    refused: type[CredentialsRefused] = CredentialsRefused
    endpoint = ""

    def __init__(
        self, poll_interval: float, timeout: float, category: str, allow: Sequence[str]
    ) -> None:
        self.poll_interval = poll_interval
        self.timeout = timeout
        self.category = category
        self.allow = tuple(allow)  # networks a redirect of an .nzb URL may lead to
        self.session = requests.Session()

    def affinity(self, link: Link) -> Affinity:
        return Affinity.SPECIALIST if link.kind is LinkKind.NZB else Affinity.INCOMPATIBLE

    def ping(self) -> None:
        """One cheap API call; raises when the program does not answer or refuses."""
        raise NotImplementedError

    def healthy(self) -> bool:
        try:
            self.ping()
        except HaulerError:
            return False
        return True

    def download(self, job: Job, progress: ProgressFn) -> Finished:
        """Submit and wait in this thread (see :mod:`hauler.downloads.clients.follow`)."""
        return follow(self, job, progress, self.failure, self.poll_interval)  # type: ignore[arg-type]

    def failure(self, found: ClientJob) -> HaulerError:
        raise NotImplementedError

    def read(self, job: Job) -> tuple[bytes, Nzb]:
        """The job's .nzb, read and parsed, once it cannot hold more than ``max_bytes``.

        Raises:
            PermanentError: it cannot be read or is not an .nzb; TooLarge: its articles
                hold more than ``job.max_bytes`` however they decode.
        """
        raw = read_nzb(job.link, self.timeout, self.allow)
        nzb = parse(raw)
        least = least_size(nzb)
        if job.max_bytes is not None and least > job.max_bytes:
            raise TooLarge(
                f"{job.link.shown} holds at least {least} bytes, over max_bytes={job.max_bytes}"
            )
        return raw, nzb

    def check_status(self, response: requests.Response, what: str, hint: str) -> None:
        """Raise for an API answer that is not 200.

        Raises:
            CredentialsRefused (``refused``): 401/403 — ``hint`` says which setting to fix.
            ClientUnavailable: 408, 425, 429, 5xx.
            PermanentError: any other status (the URL setting is probably wrong).
        """
        status = response.status_code
        if status in (401, 403):
            raise self.refused(f"{self.peer} at {self.endpoint} refused access: {hint}")
        if retryable_status(status):
            raise ClientUnavailable(f"{self.peer} at {self.endpoint}: HTTP {status} to {what}")
        if status != 200:
            raise PermanentError(
                f"{self.peer} at {self.endpoint}: HTTP {status} to {what}; "
                f"is {self.url_setting} its API address?"
            )

    def discard(self, folder: str | None, tag: str | None) -> None:
        """Delete a failed job's folder, when it is the job's own."""
        if folder and tag:
            discard(Path(folder), tag)
