"""The NZBGet client: JSON-RPC ``append``, poll ``listgroups``/``history``, collect, clean up.

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
import time
from collections.abc import Sequence
from enum import Enum
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

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
from hauler.redact import redact_text

SETTING = "HAULER_DOWNLOADS_NZBGET_URL"
MISSES = 3  # polls in a row that find the download nowhere before giving up


class NzbgetRejected(PermanentError):
    """Raised when NZBGet refuses the user and password given in its URL setting."""


class Verdict(Enum):
    """What a history Status means for the job."""

    DONE = "done"
    FAILED = "failed"


def verdict(status: str) -> Verdict:
    """DONE for ``SUCCESS/*`` and ``WARNING/SCRIPT`` (files fine, a script failed), else FAILED.

    ``WARNING/DAMAGED``, ``/REPAIRABLE``, ``/HEALTH``, ``/SPACE``, ``/PASSWORD`` leave
    damaged or packed files; ``FAILURE/*`` and ``DELETED/*`` leave nothing usable.
    """
    if status.startswith("SUCCESS/") or status == "WARNING/SCRIPT":
        return Verdict.DONE
    return Verdict.FAILED


def size_of(entry: dict[str, Any], field: str) -> int:
    """A 64-bit size NZBGet splits into ``<field>Lo`` and ``<field>Hi``."""
    return (int(entry.get(f"{field}Hi", 0)) << 32) + (int(entry.get(f"{field}Lo", 0)) & 0xFFFFFFFF)


def reason(entry: dict[str, Any], messages: Sequence[str] = ()) -> str:
    """NZBGet's account of a failure: the status, the figures behind it and its warnings."""
    parts = [str(entry.get("Status", "?"))]
    failed, total = entry.get("FailedArticles", 0), entry.get("TotalArticles", 0)
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


class NzbgetClient:
    """Downloads .nzb links with NZBGet over JSON-RPC."""

    name = "nzbget"

    def __init__(
        self,
        url: str,
        poll_interval: float = 1.0,
        *,
        timeout: float = 30.0,
        category: str = "",
        allow: Sequence[str] = (),
    ) -> None:
        parts = urlsplit(url)
        netloc = parts.hostname or ""
        if parts.port:
            netloc += f":{parts.port}"
        self.endpoint = urlunsplit((parts.scheme, netloc, parts.path or "/jsonrpc", "", ""))
        self.auth = (unquote(parts.username or ""), unquote(parts.password or ""))
        self.poll_interval = poll_interval
        self.timeout = timeout
        self.category = category
        self.allow = tuple(allow)
        self.session = requests.Session()
        self.session.headers["Connection"] = "close"  # NZBGet drops kept-alive ones after a 401

    def affinity(self, link: Link) -> Affinity:
        return Affinity.SPECIALIST if link.kind is LinkKind.NZB else Affinity.INCOMPATIBLE

    def healthy(self) -> bool:
        try:
            self.call("version")
        except HaulerError:
            return False
        return True

    def download(self, job: Job, progress: ProgressFn) -> Finished:
        found = self.find(job.tag)
        if found is None:
            self._add(job)
        elif found[0] == "history" and verdict(found[1].get("Status", "")) is Verdict.FAILED:
            self.call("editqueue", "HistoryRedownload", "", [found[1]["NZBID"]])
        meter = Meter(None, progress, start=None)
        entry = self._wait(job, meter)
        return self._finish(entry, job, meter)

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
        except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as exc:
            raise ClientUnavailable(
                f"NZBGet at {self.endpoint} does not answer ({exc.__class__.__name__})"
            ) from None
        self._check_status(response, method)
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

    def _check_status(self, response: requests.Response, method: str) -> None:
        status = response.status_code
        if status in (401, 403):
            raise NzbgetRejected(
                f"NZBGet at {self.endpoint} refused the user and password in {SETTING} "
                f"(HTTP {status}); set them to its ControlUsername/ControlPassword"
            )
        if status in (408, 429) or status >= 500:
            raise ClientUnavailable(f"NZBGet at {self.endpoint}: HTTP {status} to {method}")
        if status != 200:
            raise PermanentError(
                f"NZBGet at {self.endpoint}: HTTP {status} to {method}; "
                f"is {SETTING} its JSON-RPC endpoint (…/jsonrpc)?"
            )

    def _add(self, job: Job) -> None:
        raw = read_nzb(job.link, self.timeout, self.allow)
        least = least_size(parse(raw))
        if job.max_bytes is not None and least > job.max_bytes:
            raise TooLarge(
                f"{job.link.shown} holds at least {least} bytes, "
                f"more than max_bytes={job.max_bytes}"
            )
        content = base64.b64encode(raw).decode()
        nzb_id = self.call(
            "append", f"{job.tag}.nzb", content, self.category, 0, False, False, job.tag, 0, "FORCE"
        )
        if not isinstance(nzb_id, int) or nzb_id <= 0:
            raise ClientFailed(f"NZBGet refused {job.link.shown} (append returned {nzb_id!r})")

    def _wait(self, job: Job, meter: Meter) -> dict[str, Any]:
        """Poll until the download reaches the history; report progress meanwhile."""
        misses = 0
        while True:
            found = self.find(job.tag)
            if found is not None and found[0] == "history":
                return found[1]
            misses = misses + 1 if found is None else 0
            if misses >= MISSES:
                raise ClientUnavailable(
                    f"NZBGet lost {job.tag}: it is neither queued nor in the history"
                )
            if found is not None:
                self._check_size(found[1], job)
                total = size_of(found[1], "FileSize")
                meter.at(total - size_of(found[1], "RemainingSize"), total or None)
            time.sleep(self.poll_interval)

    def _check_size(self, group: dict[str, Any], job: Job) -> None:
        least = int(size_of(group, "FileSize") * YENC_SHRINK)
        if job.max_bytes is not None and least > job.max_bytes:
            self.call("editqueue", "GroupFinalDelete", "", [group["NZBID"]])
            if group.get("DestDir"):
                discard(Path(group["DestDir"]), job)
            raise TooLarge(f"{job.tag} is at least {least} bytes, over max_bytes={job.max_bytes}")

    def _finish(self, entry: dict[str, Any], job: Job, meter: Meter) -> Finished:
        folder = entry.get("FinalDir") or entry.get("DestDir")
        if not folder:
            raise ClientFailed(f"NZBGet's history gives no folder for {job.tag}")
        source = Path(folder)
        if verdict(entry.get("Status", "")) is Verdict.FAILED:
            text = reason(entry, self._warnings(entry["NZBID"]))
            self.call("editqueue", "HistoryFinalDelete", "", [entry["NZBID"]])
            discard(source, job)
            raise ClientFailed(redact_text(f"NZBGet could not download {job.link.shown}: {text}"))
        finished = collect(source, job, "NZBGet")
        self.call("editqueue", "HistoryFinalDelete", "", [entry["NZBID"]])
        meter.finish(finished.bytes)
        return finished

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
