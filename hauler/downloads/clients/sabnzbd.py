"""The SABnzbd client: ``addfile``, poll ``queue`` then ``history``, check, collect.

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
  is failed here ("incomplete").
- A *failed* job found on redelivery is the previous delivery's outcome that nobody saw:
  it is deleted with its files and added once more, and that second outcome is final.
  Not ``mode=retry``: SABnzbd retries in place and takes a partly written file for a
  finished one, so the retried job comes out ``Completed`` with the truncated file.
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
from enum import Enum
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests

from hauler.downloads.clients.base import (
    Affinity,
    ClientFailed,
    ClientUnavailable,
    Finished,
    Job,
    TooLarge,
)
from hauler.downloads.clients.collect import collect, discard, owned
from hauler.downloads.clients.nzbfile import read_nzb
from hauler.downloads.links import Link, LinkKind
from hauler.downloads.nzb import YENC_SHRINK, Nzb, least_size, parse
from hauler.errors import HaulerError, PermanentError
from hauler.progress import Meter, ProgressFn
from hauler.redact import redact_text, redact_url

SETTING_URL = "HAULER_DOWNLOADS_SABNZBD_URL"
SETTING_KEY = "HAULER_DOWNLOADS_SABNZBD_API_KEY"
MIB = 1024 * 1024
MISSES = 3  # polls in a row that find the job nowhere before giving up
FORGET_TRIES = 20  # history deletes of one job, a poll interval apart
# SABnzbd's Download stage-log lines for articles it could not get (sabnzbd/nzbstuff.py)
HOLES = re.compile(r"\d+ articles were (missing|malformed)")
PAR2 = re.compile(r"\.par2\b", re.IGNORECASE)


class SabnzbdRejected(PermanentError):
    """Raised when SABnzbd refuses the API key it was given."""


class Stage(Enum):
    """Where a job stands, from its status."""

    WAITING = "waiting"  # queued, downloading or post-processing
    DONE = "done"
    FAILED = "failed"


def stage(status: str) -> Stage:
    """``Completed`` is DONE; ``Failed`` and ``Deleted`` are FAILED; the rest is WAITING.

    Queue statuses: Grabbing, Queued, Paused, Propagating, Checking, Downloading, Fetching;
    post-processing (in the history): QuickCheck, Verifying, Repairing, Extracting,
    Moving, Running.
    """
    if status == "Completed":
        return Stage.DONE
    if status in ("Failed", "Deleted"):
        return Stage.FAILED
    return Stage.WAITING


def outcome(slot: Mapping[str, Any], nzb: Nzb) -> tuple[Stage, str]:
    """A job's stage and, when it failed, why: ``fail_message``, or for a ``Completed``
    job that got fewer bytes than the .nzb's data articles hold, how many it got."""
    status = str(slot.get("status", ""))
    found = stage(status)
    if slot.get("loaded") or (found is Stage.DONE and not slot.get("storage")):
        # still in SABnzbd's post-processing queue, which the history lists first, its
        # status possibly final already but its storage not yet set (sabnzbd/api.py)
        return Stage.WAITING, ""
    if found is Stage.DONE:
        wanted = data_bytes(nzb)
        got = int(slot.get("bytes") or 0)
        if got < wanted:
            holes = [
                str(line)
                for step in slot.get("stage_log") or []
                if step.get("name") == "Download"
                for line in step.get("actions") or []
                if HOLES.search(str(line))
            ]
            said = f" ({'; '.join(holes)})" if holes else ""
            return Stage.FAILED, f"incomplete: got {got} of the {wanted} bytes of articles{said}"
    if found is Stage.FAILED:
        return found, str(slot.get("fail_message") or status)
    return found, ""


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


class SabnzbdClient:
    """Downloads .nzb links with SABnzbd over its HTTP API."""

    name = "sabnzbd"

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
        parts = urlsplit(url)
        path = parts.path.rstrip("/")
        path = path if path.endswith("/api") else f"{path}/api"
        self.endpoint = urlunsplit((parts.scheme, parts.netloc, path, "", ""))
        self.shown = redact_url(self.endpoint)  # the endpoint as messages show it
        self.api_key = api_key
        self.poll_interval = poll_interval
        self.timeout = timeout
        self.category = category or "*"
        self.allow = tuple(allow)  # networks a redirect of an .nzb URL may lead to
        self.session = requests.Session()

    def affinity(self, link: Link) -> Affinity:
        return Affinity.SPECIALIST if link.kind is LinkKind.NZB else Affinity.INCOMPATIBLE

    def healthy(self) -> bool:
        try:
            self.call("queue", {"limit": 1})
        except HaulerError:
            return False
        return True

    def download(self, job: Job, progress: ProgressFn) -> Finished:
        found = self.find(job.tag)  # first: an unreachable SABnzbd or a wrong key is told first
        raw = read_nzb(job.link, self.timeout, self.allow)
        nzb = parse(raw)
        least = least_size(nzb)
        if job.max_bytes is not None and least > job.max_bytes:
            raise TooLarge(
                f"{job.link.shown} holds at least {least} bytes, over max_bytes={job.max_bytes}"
            )
        if found and found[0] == "history" and outcome(found[1], nzb)[0] is Stage.FAILED:
            self._forget(found[1], job)  # an outcome nobody saw: added once more
            found = None
        nzo_id = self._add(job, raw) if found is None else found[1].get("nzo_id")
        meter = Meter(None, progress, start=None)
        slot = self._wait(job, nzo_id, nzb, meter)
        return self._finish(slot, job, nzb, meter)

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
        except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as exc:
            raise ClientUnavailable(
                f"SABnzbd at {self.shown} does not answer ({exc.__class__.__name__})"
            ) from None
        self._check_status(response, mode)
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

    def _check_status(self, response: requests.Response, mode: str) -> None:
        status = response.status_code
        if status in (401, 403):
            said = redact_text(response.text.strip()[:200])  # e.g. "API Key Incorrect"
            raise SabnzbdRejected(
                f"SABnzbd at {self.shown} refused access (HTTP {status}: {said}); "
                f"check {SETTING_KEY}"
            )
        if status in (408, 429) or status >= 500:
            raise ClientUnavailable(f"SABnzbd at {self.shown}: HTTP {status} to mode={mode}")
        if status != 200:
            raise PermanentError(
                f"SABnzbd at {self.shown}: HTTP {status} to mode={mode}; "
                f"is {SETTING_URL} its API address (…/api)?"
            )

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

    def _wait(self, job: Job, nzo_id: str | None, nzb: Nzb, meter: Meter) -> dict[str, Any]:
        """Poll the queue, then the history, until the job is Completed or Failed."""
        misses = 0
        while True:
            found = self.find(job.tag, nzo_id)
            misses = misses + 1 if found is None else 0
            if misses >= MISSES:
                raise ClientUnavailable(
                    f"SABnzbd lost {job.tag}: it is neither queued nor in the history"
                )
            if found is not None:
                where, slot = found
                nzo_id = slot.get("nzo_id") or nzo_id
                if outcome(slot, nzb)[0] is not Stage.WAITING:
                    return slot
                if where == "queue":
                    self._check_size(slot, job)
                    total = megabytes(slot.get("mb"))
                    meter.at(total - megabytes(slot.get("mbleft")), total or None)
            time.sleep(self.poll_interval)

    def _check_size(self, slot: dict[str, Any], job: Job) -> None:
        least = int(megabytes(slot.get("mb")) * YENC_SHRINK)
        if job.max_bytes is not None and least > job.max_bytes:
            self.call("queue", {"name": "delete", "value": slot["nzo_id"], "del_files": 1})
            raise TooLarge(f"{job.tag} is at least {least} bytes, over max_bytes={job.max_bytes}")

    def _finish(self, slot: dict[str, Any], job: Job, nzb: Nzb, meter: Meter) -> Finished:
        done, message = outcome(slot, nzb)
        if done is Stage.FAILED:
            self._forget(slot, job)
            raise ClientFailed(
                redact_text(f"SABnzbd could not download {job.link.shown}: {message}")
            )
        finished = collect(job_folder(Path(slot["storage"]), job.tag), job, "SABnzbd")
        self._forget(slot, job, keep_files=True)
        meter.finish(finished.bytes)
        return finished

    def _forget(self, slot: dict[str, Any], job: Job, keep_files: bool = False) -> None:
        """Delete the history entry for good, and a failed job's files with it.

        SABnzbd ignores the delete while the job is still leaving its post-processing
        queue (the entry is then dropped from that queue, not from the history), so the
        delete is repeated until the history no longer holds the job.
        """
        nzo_id = slot["nzo_id"]
        delete = {"name": "delete", "value": nzo_id, "archive": 0}
        for _ in range(FORGET_TRIES):
            self.call("history", delete if keep_files else {**delete, "del_files": 1})
            if not self.call("history", {"nzo_ids": nzo_id}).get("history", {}).get("slots"):
                break
            time.sleep(self.poll_interval)
        if not keep_files and slot.get("storage"):
            discard(job_folder(Path(slot["storage"]), job.tag), job)
