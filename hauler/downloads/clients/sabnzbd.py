"""The SABnzbd client: ``addurl``/``addfile``, poll ``queue`` then ``history``, collect.

Each job is added with ``nzbname=<tag>``, so SABnzbd names the job, and its folder in
the complete directory, after the tag; a redelivered task, on any worker, finds the job
again by that name instead of adding it twice. A remote .nzb is added by URL (SABnzbd
fetches it); a local one is uploaded (``addfile``, multipart). A *failed* job found on
redelivery is the previous delivery's outcome that nobody saw: it is retried once in
place (``mode=retry``, which keeps what was downloaded) and its second outcome is final.
Completed files are moved from the history's ``storage`` into the job's work directory,
then the history entry is deleted for good (``archive=0``).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
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
from hauler.downloads.clients.collect import collect, discard
from hauler.downloads.clients.nzbfile import read_nzb
from hauler.downloads.links import Link, LinkKind
from hauler.downloads.nzb import YENC_SHRINK, least_size, parse
from hauler.errors import HaulerError, PermanentError
from hauler.progress import Meter, ProgressFn
from hauler.redact import redact_text, redact_url

SETTING_URL = "HAULER_DOWNLOADS_SABNZBD_URL"
SETTING_KEY = "HAULER_DOWNLOADS_SABNZBD_API_KEY"
MIB = 1024 * 1024
MISSES = 3  # polls in a row that find the job nowhere before giving up


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
        found = self.find(job.tag)
        nzo_id: str | None
        if found is None:
            nzo_id = self._add(job)
        elif found[0] == "history" and stage(found[1].get("status", "")) is Stage.FAILED:
            nzo_id = self._retry(found[1], job)
        else:
            nzo_id = found[1].get("nzo_id")
        meter = Meter(None, progress, start=None)
        slot = self._wait(job, nzo_id, meter)
        return self._finish(slot, job, meter)

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
            raise SabnzbdRejected(
                f"SABnzbd at {self.shown} refused access (HTTP {status}); check {SETTING_KEY}"
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

    def _add(self, job: Job) -> str:
        base = {"nzbname": job.tag, "cat": self.category, "priority": -100, "pp": -1}
        if job.link.local:
            content = read_nzb(job.link)  # a local file: remote ones SABnzbd fetches itself
            least = least_size(parse(content))
            if job.max_bytes is not None and least > job.max_bytes:
                raise TooLarge(
                    f"{job.link.shown} holds at least {least} bytes, over max_bytes={job.max_bytes}"
                )
            answer = self.call("addfile", base, upload=(f"{job.tag}.nzb", content))
        else:
            answer = self.call("addurl", {**base, "name": job.link.url})
        if not answer.get("status") or not answer.get("nzo_ids"):
            raise ClientFailed(redact_text(f"SABnzbd refused {job.link.shown}: {answer}"))
        return str(answer["nzo_ids"][0])

    def _retry(self, slot: dict[str, Any], job: Job) -> str | None:
        """Retry a failed job in place (its new nzo_id); when SABnzbd cannot, start afresh."""
        try:
            answer = self.call("retry", {"value": slot["nzo_id"]})
        except ClientFailed:
            self._forget(slot, job)
            return self._add(job)
        return answer.get("nzo_id")

    def _wait(self, job: Job, nzo_id: str | None, meter: Meter) -> dict[str, Any]:
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
                if stage(slot.get("status", "")) is not Stage.WAITING:
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

    def _finish(self, slot: dict[str, Any], job: Job, meter: Meter) -> Finished:
        if stage(slot.get("status", "")) is Stage.FAILED:
            self._forget(slot, job)
            message = slot.get("fail_message") or slot.get("status")
            raise ClientFailed(
                redact_text(f"SABnzbd could not download {job.link.shown}: {message}")
            )
        if not slot.get("storage"):
            raise ClientFailed(f"SABnzbd reports {job.tag} complete but gives no storage folder")
        finished = collect(Path(slot["storage"]), job, "SABnzbd")
        self._forget(slot, job, keep_files=True)
        meter.finish(finished.bytes)
        return finished

    def _forget(self, slot: dict[str, Any], job: Job, keep_files: bool = False) -> None:
        """Delete the history entry for good, and a failed job's files with it."""
        delete = {"name": "delete", "value": slot["nzo_id"], "archive": 0}
        self.call("history", delete if keep_files else {**delete, "del_files": 1})
        if not keep_files and slot.get("storage"):
            discard(Path(slot["storage"]), job)
