"""The NZBGet client: JSON-RPC ``append``; one pass is ``listgroups`` + ``history``.

Each job is added as ``<tag>.nzb`` with DupeKey ``<tag>`` and DupeMode ``FORCE`` (so
NZBGet's duplicate check never skips it), which makes NZBGet name the download, and its
folder under DestDir, after the tag. A redelivered task, on any worker, finds its
download again by that name instead of adding it twice; a failed one it finds is
downloaded again once (``HistoryRedownload``). NZBGet cannot be told a destination per
download, so the files are moved from the history's ``FinalDir``/``DestDir`` into the
job's work directory; the history entry is then deleted for good.
"""

from __future__ import annotations

import base64
import contextlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

import requests

from hauler.downloads.clients.base import (
    ClientFailed,
    ClientUnavailable,
    Finished,
    Job,
    Submitted,
)
from hauler.downloads.clients.collect import collect
from hauler.downloads.clients.jobs import ClientJob, JobState
from hauler.downloads.clients.usenet import UsenetClient, least_bytes
from hauler.errors import CredentialsRefused, HaulerError
from hauler.redact import redact_text

SETTING = "HAULER_DOWNLOADS_NZBGET_URL"
TAG_PREFIX = "hauler-"
#: NZBGet's queue Status values (its ``listgroups``), in Hauler's words; the rest of the
#: queue is post-processing (LOADING_PARS, VERIFYING_SOURCES, REPAIRING, UNPACKING …).
QUEUE_STATES = {
    "QUEUED": JobState.QUEUED,
    "FETCHING": JobState.QUEUED,
    "PAUSED": JobState.PAUSED,
    "DOWNLOADING": JobState.DOWNLOADING,
}
#: History fields kept in ``ClientJob.details`` (classification reads them).
DETAIL_FIELDS = (
    "Status",
    "ParStatus",
    "UnpackStatus",
    "MoveStatus",
    "UrlStatus",
    "DeleteStatus",
    "ScriptStatus",
    "MarkStatus",
    "ExParStatus",
    "Health",
    "CriticalHealth",
    "FailedArticles",
    "TotalArticles",
    "DupeKey",
)


class NzbgetRejected(CredentialsRefused):
    """Raised when NZBGet refuses the user and password given in its URL setting."""


def completed(status: str) -> bool:
    """True for ``SUCCESS/*`` and ``WARNING/SCRIPT`` (files fine, a script failed).

    ``WARNING/DAMAGED``, ``/REPAIRABLE``, ``/HEALTH``, ``/SPACE``, ``/PASSWORD`` leave
    damaged or packed files; ``FAILURE/*`` and ``DELETED/*`` leave nothing usable.
    """
    return status.startswith("SUCCESS/") or status == "WARNING/SCRIPT"


def size_of(entry: Mapping[str, Any], field: str) -> int:
    """A 64-bit size NZBGet splits into ``<field>Lo`` and ``<field>Hi``."""
    return (int(entry.get(f"{field}Hi", 0)) << 32) + (int(entry.get(f"{field}Lo", 0)) & 0xFFFFFFFF)


def reason(entry: Mapping[str, Any], messages: Sequence[str] = ()) -> str:
    """NZBGet's account of a failure: the status, the figures behind it and its warnings."""
    parts = [str(entry.get("Status", "?"))]
    failed, total = int(entry.get("FailedArticles", 0)), int(entry.get("TotalArticles", 0))
    if failed:
        parts.append(f"{failed} of {total} articles failed")
    if not messages and int(entry.get("Health", 1000)) < 1000:
        health, critical = int(entry["Health"]) / 10, int(entry.get("CriticalHealth", 1000)) / 10
        parts.append(f"health {health:.1f}% (critical {critical:.1f}%)")
    for field in ("ParStatus", "UnpackStatus", "MoveStatus", "UrlStatus", "DeleteStatus"):
        value = entry.get(field, "NONE")
        if value not in ("NONE", "SUCCESS"):
            parts.append(f"{field}={value}")
    text = "; ".join(parts)
    return f"{text}: {' / '.join(messages)}" if messages else text


def tag_of(entry: Mapping[str, Any]) -> str | None:
    """Hauler's tag of a download (its DupeKey or name), or None for a foreign one."""
    for value in (entry.get("DupeKey"), entry.get("NZBName")):
        if isinstance(value, str) and value.startswith(TAG_PREFIX):
            return value
    return None


def queued_job(group: Mapping[str, Any]) -> ClientJob:
    """A ``listgroups`` entry as a ClientJob."""
    total = size_of(group, "FileSize")
    status = str(group.get("Status", ""))
    return ClientJob(
        client="nzbget",
        job_id=str(group["NZBID"]),
        state=QUEUE_STATES.get(status, JobState.POSTPROCESSING),
        status=status,
        name=str(group.get("NZBName") or ""),
        tag=tag_of(group),
        category=group.get("Category") or None,
        bytes_done=total - size_of(group, "RemainingSize"),
        bytes_total=total or None,
        details={"where": "queue", "least_bytes": str(least_bytes(total))},
        path=group.get("DestDir") or None,
    )


def history_job(entry: Mapping[str, Any]) -> ClientJob:
    """A ``history`` entry as a ClientJob: COMPLETED, FAILED, or DELETED (by hand)."""
    status = str(entry.get("Status", ""))
    if completed(status):
        state = JobState.COMPLETED
    elif status.startswith("DELETED/") and status != "DELETED/DUPE":
        state = JobState.DELETED
    else:
        state = JobState.FAILED
    total = size_of(entry, "FileSize")
    details = {f: str(entry[f]) for f in DETAIL_FIELDS if f in entry}
    details["where"] = "history"
    details["least_bytes"] = str(least_bytes(total))
    return ClientJob(
        client="nzbget",
        job_id=str(entry["NZBID"]),
        state=state,
        status=status,
        name=str(entry.get("NZBName") or ""),
        tag=tag_of(entry),
        category=entry.get("Category") or None,
        bytes_done=total,
        bytes_total=total or None,
        message=None if state is JobState.COMPLETED else reason(entry),
        details=details,
        path=entry.get("FinalDir") or entry.get("DestDir") or None,
    )


class NzbgetClient(UsenetClient):
    """Hands .nzb links to NZBGet over JSON-RPC."""

    name = "nzbget"
    peer = "NZBGet"
    url_setting = SETTING
    refused = NzbgetRejected

    def __init__(
        self,
        url: str,
        poll_interval: float = 1.0,
        *,
        timeout: float = 30.0,
        category: str = "",
        allow: Sequence[str] = (),
    ) -> None:
        super().__init__(poll_interval, timeout, category, allow)
        parts = urlsplit(url)
        netloc = parts.hostname or ""
        if parts.port:
            netloc += f":{parts.port}"
        self.endpoint = urlunsplit((parts.scheme, netloc, parts.path or "/jsonrpc", "", ""))
        self.auth = (unquote(parts.username or ""), unquote(parts.password or ""))
        self.session.headers["Connection"] = "close"  # NZBGet drops kept-alive ones after a 401

    def ping(self) -> None:
        self.call("version")

    def call(self, method: str, *params: Any) -> Any:
        """One JSON-RPC call; its ``result``.

        Raises:
            ClientUnavailable: NZBGet does not answer, or answers 5xx.
            NzbgetRejected: the credentials in the URL are wrong.
            ClientFailed: NZBGet answers the call with an error.
        """
        payload = {"version": "1.1", "method": method, "params": list(params)}
        try:
            response = self.session.post(
                self.endpoint, json=payload, auth=self.auth, timeout=self.timeout
            )
        except requests.exceptions.RequestException as exc:
            raise ClientUnavailable(
                f"NZBGet at {self.endpoint} does not answer ({exc.__class__.__name__})"
            ) from None
        hint = f"set the user and password in {SETTING} to its ControlUsername/ControlPassword"
        self.check_status(response, method, hint)
        try:
            body = response.json()
        except ValueError:
            raise ClientUnavailable(f"NZBGet at {self.endpoint} sent no JSON to {method}") from None
        if body.get("error"):
            error = body["error"]
            text = error.get("message", error) if isinstance(error, dict) else error
            raise ClientFailed(redact_text(f"NZBGet {method}: {text}"))
        return body.get("result")

    def find(self, tag: str) -> tuple[str, dict[str, Any]] | None:
        """Where the download labelled ``tag`` is: ("queue", group) or ("history", entry)."""
        for where, method, argument in (("queue", "listgroups", 0), ("history", "history", False)):
            for entry in self.call(method, argument) or []:
                if _labelled(entry, tag):
                    return where, entry
        return None

    def submit(self, job: Job) -> Submitted:
        """Append the .nzb as ``<tag>.nzb``; re-attach to this tag's download when NZBGet
        has it (a failed one is downloaded again once, ``HistoryRedownload``)."""
        found = self.find(job.tag)
        if found is not None:
            where, entry = found
            if where == "history" and not completed(str(entry.get("Status", ""))):
                self.call("editqueue", "HistoryRedownload", "", [entry["NZBID"]])
            return Submitted(str(entry["NZBID"]), attached=True)
        raw, _ = self.read(job)
        content = base64.b64encode(raw).decode()
        nzb_id = self.call(
            "append", f"{job.tag}.nzb", content, self.category, 0, False, False, job.tag, 0, "FORCE"
        )
        if not isinstance(nzb_id, int) or nzb_id <= 0:
            raise ClientFailed(f"NZBGet refused {job.link.shown} (append returned {nzb_id!r})")
        return Submitted(str(nzb_id))

    def jobs(self) -> list[ClientJob]:
        """The queue (``listgroups``) and the history (``history``): two calls."""
        queue = [queued_job(g) for g in self.call("listgroups", 0) or []]
        history = [
            history_job(e)
            for e in self.call("history", False) or []
            if e.get("Kind", "NZB") == "NZB"
        ]
        return queue + history

    def collect(self, job: Job, found: ClientJob) -> Finished:
        if not found.path:
            raise ClientFailed(f"NZBGet's history gives no folder for {job.tag}")
        finished = collect(Path(found.path), job, "NZBGet")
        self.call("editqueue", "HistoryFinalDelete", "", [int(found.job_id)])
        return finished

    def remove(self, found: ClientJob, *, delete_files: bool) -> None:
        command = "GroupFinalDelete" if found.details.get("where") == "queue" else None
        with contextlib.suppress(ClientFailed):  # already gone
            self.call("editqueue", command or "HistoryFinalDelete", "", [int(found.job_id)])
        if delete_files:
            self.discard(found.path, found.tag)

    def failure(self, found: ClientJob) -> HaulerError:
        text = reason(found.details, self._warnings(int(found.job_id)))
        return ClientFailed(redact_text(f"NZBGet could not download {found.name}: {text}"))

    def _warnings(self, nzb_id: int) -> list[str]:
        """The download's own warnings and errors, from its log (best effort)."""
        try:
            log = self.call("loadlog", nzb_id, 0, 100) or []
        except HaulerError:
            return []
        return [m["Text"] for m in log if m.get("Kind") in ("WARNING", "ERROR")][-3:]


def _labelled(entry: dict[str, Any], tag: str) -> bool:
    """True for the NZB download Hauler added for ``tag`` (by DupeKey or name)."""
    return tag in (entry.get("DupeKey"), entry.get("NZBName")) and entry.get("Kind", "NZB") == "NZB"
