"""The SABnzbd client: ``addfile``; one pass is ``queue`` + ``history``.

Hauler reads the .nzb itself (a local file, or a size-capped GET whose redirects are
checked like every download's) and uploads it (``addfile``, multipart): so ``max_bytes``
is known before anything is added, and what SABnzbd reports can be checked against the
articles the .nzb lists. Each job is added with ``nzbname=<tag>``, so SABnzbd names the
job, and its folder in the complete directory, after the tag; a redelivered task, on any
worker, finds the job again by that name instead of adding it twice.

What SABnzbd 3.7 (Debian's sabnzbdplus) does, and this client allows for:

- It marks a job ``Completed`` with articles missing when it has no par2 files to judge
  by (up to ``MAX_BAD_ARTICLES`` = 5, sabnzbd/nzbstuff.py), with an empty
  ``fail_message`` and a truncated file. Its history's ``bytes`` counts the posted bytes
  of the articles it got, so a job with fewer than the .nzb's non-par2 articles' bytes
  (kept from ``submit`` as ``data_bytes``) fails in ``collect`` ("incomplete").
- A *failed* job found on resubmission is the previous delivery's outcome that nobody
  saw: it is deleted with its files and added once more. Not ``mode=retry``: SABnzbd
  retries in place and takes a partly written file for a finished one, so the retried
  job comes out ``Completed`` with the truncated file.
- The history lists jobs still in post-processing first (``loaded``: true), their status
  possibly final before ``storage`` is set; and a delete of such a job only drops it
  from that queue, so the history delete is repeated until the entry is gone.
- ``storage`` is the job's folder, or its only file (or only folder) when it holds just
  that (``one_file_or_folder`` in sabnzbd/postproc.py); files are moved from the job's
  folder into the work directory, then the history entry is deleted (``archive=0``).
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests

from hauler.downloads.clients.base import (
    ClientFailed,
    ClientUnavailable,
    Finished,
    Job,
    Submitted,
)
from hauler.downloads.clients.collect import collect, owned
from hauler.downloads.clients.jobs import ClientJob, JobState
from hauler.downloads.clients.usenet import UsenetClient, least_bytes
from hauler.downloads.nzb import Nzb
from hauler.errors import CredentialsRefused, HaulerError, PermanentError
from hauler.redact import redact_text, redact_url

SETTING_URL = "HAULER_DOWNLOADS_SABNZBD_URL"
SETTING_KEY = "HAULER_DOWNLOADS_SABNZBD_API_KEY"
MIB = 1024 * 1024
FORGET_TRIES = 20  # history deletes of one job, a poll interval apart
LISTED = 1000  # queue and history slots one pass reads
TAG_PREFIX = "hauler-"
# SABnzbd's Download stage-log lines for articles it could not get (sabnzbd/nzbstuff.py)
HOLES = re.compile(r"\d+ articles were (missing|malformed)")
PAR2 = re.compile(r"\.par2\b", re.IGNORECASE)
#: SABnzbd's queue statuses (sabnzbd/constants.py Status), in Hauler's words.
QUEUE_STATES = {
    "Downloading": JobState.DOWNLOADING,
    "Paused": JobState.PAUSED,
    "Queued": JobState.QUEUED,
    "Grabbing": JobState.QUEUED,
    "Fetching": JobState.QUEUED,
    "Propagating": JobState.QUEUED,
    "Checking": JobState.QUEUED,
}


class SabnzbdRejected(CredentialsRefused):
    """Raised when SABnzbd refuses the API key it was given."""


def data_bytes(nzb: Nzb) -> int:
    """The posted bytes of the .nzb's files other than par2 (which SABnzbd may skip)."""
    return sum(f.bytes for f in nzb.files if not PAR2.search(f.name))


def job_folder(storage: Path, tag: str) -> Path:
    """The job's own folder from a history ``storage``: SABnzbd points ``storage`` at the
    one file (or the one folder, recursively) when the job folder holds only that
    (``one_file_or_folder`` in sabnzbd/postproc.py), so the folder may be an ancestor."""
    for folder in (storage, *storage.parents):
        if owned(folder, tag):
            return folder
    return storage


def megabytes(value: Any) -> int:
    """Bytes from one of SABnzbd's "MB" strings (mebibytes, e.g. ``"1277.65"``)."""
    try:
        return int(float(value) * MIB)
    except (TypeError, ValueError):
        return 0


def _tag(name: Any) -> str | None:
    return name if isinstance(name, str) and name.startswith(TAG_PREFIX) else None


def queued_job(slot: Mapping[str, Any]) -> ClientJob:
    """A ``queue`` slot as a ClientJob."""
    total = megabytes(slot.get("mb"))
    status = str(slot.get("status", ""))
    return ClientJob(
        client="sabnzbd",
        job_id=str(slot["nzo_id"]),
        state=QUEUE_STATES.get(status, JobState.QUEUED),
        status=status,
        name=str(slot.get("filename") or ""),
        tag=_tag(slot.get("filename")),
        category=slot.get("cat") or None,
        bytes_done=total - megabytes(slot.get("mbleft")),
        bytes_total=total or None,
        details={"where": "queue", "least_bytes": str(least_bytes(total))},
    )


def history_job(slot: Mapping[str, Any]) -> ClientJob:
    """A ``history`` slot as a ClientJob.

    ``Completed`` is COMPLETED once SABnzbd is done with it (not ``loaded`` in its
    post-processing queue, ``storage`` set); ``Failed`` is FAILED; ``Deleted`` DELETED;
    the rest (QuickCheck, Verifying, Repairing, Extracting, Moving, Running) is
    POSTPROCESSING.
    """
    status = str(slot.get("status", ""))
    if slot.get("loaded") or (status == "Completed" and not slot.get("storage")):
        state = JobState.POSTPROCESSING
    elif status == "Completed":
        state = JobState.COMPLETED
    elif status == "Failed":
        state = JobState.FAILED
    elif status == "Deleted":
        state = JobState.DELETED
    else:
        state = JobState.POSTPROCESSING
    holes = [
        str(line)
        for step in slot.get("stage_log") or []
        if step.get("name") == "Download"
        for line in step.get("actions") or []
        if HOLES.search(str(line))
    ]
    details = {"where": "history", "bytes": str(int(slot.get("bytes") or 0))}
    if holes:
        details["holes"] = "; ".join(holes)
    message = str(slot.get("fail_message") or "") or None
    return ClientJob(
        client="sabnzbd",
        job_id=str(slot["nzo_id"]),
        state=state,
        status=status,
        name=str(slot.get("name") or ""),
        tag=_tag(slot.get("name")),
        category=slot.get("category") or None,
        bytes_done=int(slot.get("bytes") or 0),
        bytes_total=int(slot.get("bytes") or 0) or None,
        message=message if state in (JobState.FAILED, JobState.DELETED) else None,
        details=details,
        path=slot.get("storage") or None,
    )


def shortfall(found: ClientJob, wanted: int) -> str | None:
    """Why a ``Completed`` job is incomplete (fewer bytes than the .nzb's data), or None."""
    got = int(found.details.get("bytes") or found.bytes_done)
    if got >= wanted:
        return None
    holes = found.details.get("holes")
    said = f" ({holes})" if holes else ""
    return f"incomplete: got {got} of the {wanted} bytes of articles{said}"


class SabnzbdClient(UsenetClient):
    """Hands .nzb links to SABnzbd over its HTTP API."""

    name = "sabnzbd"
    peer = "SABnzbd"
    url_setting = SETTING_URL
    refused = SabnzbdRejected

    def __init__(
        self,
        url: str,
        api_key: str,
        poll_interval: float = 1.0,
        *,
        timeout: float = 30.0,
        category: str = "",
        allow: Sequence[str] = (),
    ) -> None:
        super().__init__(poll_interval, timeout, category or "*", allow)
        parts = urlsplit(url)
        path = parts.path.rstrip("/")
        path = path if path.endswith("/api") else f"{path}/api"
        self.endpoint = urlunsplit((parts.scheme, parts.netloc, path, "", ""))
        self.shown = redact_url(self.endpoint)  # the endpoint as messages show it
        self.api_key = api_key

    def ping(self) -> None:
        self.call("queue", {"limit": 1})

    def call(
        self,
        mode: str,
        params: Mapping[str, Any] | None = None,
        upload: tuple[str, bytes] | None = None,
    ) -> dict[str, Any]:
        """One API call (``output=json``); its decoded answer.

        Raises:
            ClientUnavailable: SABnzbd does not answer, or answers 5xx.
            SabnzbdRejected: the API key is missing or wrong.
            ClientFailed: SABnzbd answers with an error.
        """
        query = {"mode": mode, "output": "json", "apikey": self.api_key, **(params or {})}
        files = {"name": (upload[0], upload[1], "application/x-nzb")} if upload else None
        try:
            method = "POST" if files else "GET"
            response = self.session.request(
                method, self.endpoint, params=query, files=files, timeout=self.timeout
            )
        except requests.exceptions.RequestException as exc:
            raise ClientUnavailable(
                f"SABnzbd at {self.shown} does not answer ({exc.__class__.__name__})"
            ) from None
        said = redact_text(response.text.strip()[:200])  # e.g. "API Key Incorrect"
        self.check_status(response, f"mode={mode}", f"{said}; check {SETTING_KEY}")
        try:
            body = response.json()
        except ValueError:
            raise PermanentError(
                f"SABnzbd at {self.shown} sent no JSON to mode={mode}; "
                f"is {SETTING_URL} its API address (…/api)?"
            ) from None
        return self._check_error(body, mode)

    def find(self, tag: str, nzo_id: str | None = None) -> tuple[str, dict[str, Any]] | None:
        """Where the job is, ("queue", slot) or ("history", slot): by ``nzo_id`` when known
        (a job still grabbing its .nzb may not carry its name yet), else by name."""
        query = {"nzo_ids": nzo_id} if nzo_id else {"search": tag}
        for where, name in (("queue", "filename"), ("history", "name")):
            for slot in self.call(where, query).get(where, {}).get("slots", []):
                if (nzo_id and slot.get("nzo_id") == nzo_id) or slot.get(name) == tag:
                    return where, slot
        return None

    def submit(self, job: Job) -> Submitted:
        """Upload the .nzb named after the tag; re-attach to this tag's job when SABnzbd has
        one that did not fail (a failed one is deleted and the job added once more)."""
        found = self.find(job.tag)  # first: an unreachable SABnzbd or a wrong key is told first
        raw, nzb = self.read(job)
        details = {"data_bytes": data_bytes(nzb)}
        if found is not None:
            slot_job = (queued_job if found[0] == "queue" else history_job)(found[1])
            failed = slot_job.state in (JobState.FAILED, JobState.DELETED)
            if slot_job.state is JobState.COMPLETED and shortfall(slot_job, details["data_bytes"]):
                failed = True
            if not failed:
                return Submitted(slot_job.job_id, details, attached=True)
            self._forget(slot_job.job_id, slot_job.path, job.tag)  # an outcome nobody saw
        return Submitted(self._add(job, raw), details)

    def jobs(self) -> list[ClientJob]:
        """The queue and the history (``LISTED`` slots of each): two calls."""
        window = {"start": 0, "limit": LISTED}
        queue = self.call("queue", window).get("queue", {}).get("slots", [])
        history = self.call("history", window).get("history", {}).get("slots", [])
        return [queued_job(s) for s in queue] + [history_job(s) for s in history]

    def collect(self, job: Job, found: ClientJob) -> Finished:
        wanted = job.details.get("data_bytes")
        short = shortfall(found, int(wanted)) if wanted is not None else None
        if short is not None:
            self._forget(found.job_id, found.path, job.tag)
            raise ClientFailed(redact_text(f"SABnzbd could not download {job.link.shown}: {short}"))
        if not found.path:
            raise ClientFailed(f"SABnzbd's history gives no folder for {job.tag}")
        finished = collect(job_folder(Path(found.path), job.tag), job, "SABnzbd")
        self._forget(found.job_id, None, job.tag)
        return finished

    def remove(self, found: ClientJob, *, delete_files: bool) -> None:
        if found.details.get("where") == "queue":
            delete = {"name": "delete", "value": found.job_id, "del_files": int(delete_files)}
            self.call("queue", delete)
            return
        self._forget(found.job_id, found.path if delete_files else None, found.tag, delete_files)

    def failure(self, found: ClientJob) -> HaulerError:
        said = found.message or found.status
        return ClientFailed(redact_text(f"SABnzbd could not download {found.name}: {said}"))

    @staticmethod
    def _check_error(body: Any, mode: str) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise ClientFailed(redact_text(f"SABnzbd mode={mode} answered {body!r}"))
        error = body.get("error")
        if body.get("status") is False and error:
            if "api key" in str(error).lower():
                raise SabnzbdRejected(
                    redact_text(f"SABnzbd refused the key in {SETTING_KEY}: {error}")
                )
            raise ClientFailed(redact_text(f"SABnzbd mode={mode}: {error}"))
        return body

    def _add(self, job: Job, raw: bytes) -> str:
        base = {"nzbname": job.tag, "cat": self.category, "priority": -100, "pp": -1}
        answer = self.call("addfile", base, upload=(f"{job.tag}.nzb", raw))
        if not answer.get("status") or not answer.get("nzo_ids"):
            raise ClientFailed(redact_text(f"SABnzbd refused {job.link.shown}: {answer}"))
        return str(answer["nzo_ids"][0])

    def _forget(
        self, nzo_id: str, storage: str | None, tag: str | None, delete_files: bool = True
    ) -> None:
        """Delete the history entry for good (with its files, unless they were collected).

        SABnzbd ignores the delete while the job is still leaving its post-processing
        queue (the entry is then dropped from that queue, not from the history), so the
        delete is repeated until the history no longer holds the job.
        """
        delete: dict[str, Any] = {"name": "delete", "value": nzo_id, "archive": 0}
        if storage is not None and delete_files:
            delete["del_files"] = 1
        for _ in range(FORGET_TRIES):
            self.call("history", delete)
            if not self.call("history", {"nzo_ids": nzo_id}).get("history", {}).get("slots"):
                break
            time.sleep(self.poll_interval)
        if storage and delete_files and tag:
            self.discard(str(job_folder(Path(storage), tag)), tag)
