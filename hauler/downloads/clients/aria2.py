"""The aria2 client: magnets, .torrent files and multi-connection direct links over JSON-RPC.

Each job's transfer gets a GID derived from its tag (``gid_for``), so a redelivered task
finds its transfer in aria2 by asking for that GID — even after a worker restart — and
re-attaches instead of adding a second one. Magnets and .torrent URLs first fetch their
metadata; the real download is the transfer named in ``followedBy``: ``jobs`` reports
such a family as one job, under the first GID, in the state of its last member.

One pass over aria2 (``jobs``) is one HTTP request: ``system.multicall`` of
``tellActive``, ``tellWaiting`` and ``tellStopped``.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import re
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hauler.downloads.clients import staging
from hauler.downloads.clients.aria2_rpc import Aria2Rpc, Aria2RpcError
from hauler.downloads.clients.base import Affinity, ClientFailed, Finished, Job, Submitted
from hauler.downloads.clients.follow import follow
from hauler.downloads.clients.jobs import ClientJob, JobState
from hauler.downloads.links import Link, LinkKind
from hauler.errors import HaulerError, RetryableError
from hauler.httpstatus import retryable_status
from hauler.progress import ProgressFn
from hauler.redact import redact_text

log = logging.getLogger(__name__)


class Restart(RetryableError):
    """Raised when aria2 cannot continue from the partial data: retry from zero."""


RUNNING = frozenset({"active", "waiting", "paused"})
# aria2 error codes (its EXIT STATUS list) that no retry can fix: not found, bad
# metadata or options, auth, redirects, and files it cannot create in the staging dir.
PERMANENT_CODES = frozenset({3, 4, 13, 14, 15, 16, 18, 20, 23, 24, 25, 26, 27, 28, 30})
# aria2 error codes after which the partial data is useless, so a retry starts from
# zero: the server cannot resume it (8), the torrent's pieces changed (10).
RESTART_CODES = frozenset({8, 10})
_HTTP_STATUS = re.compile(r"status=(\d{3})")
#: The fields one pass asks for, per transfer.
KEYS = [
    "gid",
    "status",
    "totalLength",
    "completedLength",
    "downloadSpeed",
    "errorCode",
    "errorMessage",
    "dir",
    "files",
    "bittorrent",
    "followedBy",
    "following",
]
LISTED = 1000  # waiting and stopped transfers one pass reads (aria2 keeps 1000 results)
STATES = {
    "active": JobState.DOWNLOADING,
    "waiting": JobState.QUEUED,
    "paused": JobState.PAUSED,
    "complete": JobState.COMPLETED,
    "error": JobState.FAILED,
    "removed": JobState.DELETED,
}


def gid_for(tag: str) -> str:
    """The GID (16 hex digits, never all zero) of the transfer labelled ``tag``."""
    gid = hashlib.sha1(tag.encode()).hexdigest()[:16]
    return gid if gid.strip("0") else "0" * 15 + "1"


def failure(status: Mapping[str, Any]) -> HaulerError:
    """The error for a transfer aria2 stopped with ``errorCode``/``errorMessage``.

    HTTP 4xx answers (code 22 with ``status=4xx``) and the codes in ``PERMANENT_CODES``
    are permanent; everything else (timeouts, network, 5xx, disk full, unknown) retries,
    from zero for the codes in ``RESTART_CODES``.
    """
    code = int(status.get("errorCode") or 1)
    message = status.get("errorMessage") or "no message"
    text = redact_text(f"aria2 error {code}: {message}")
    if code == 22:
        match = _HTTP_STATUS.search(message)
        http = int(match.group(1)) if match else 500
        return RetryableError(text) if retryable_status(http) else ClientFailed(text)
    if code in PERMANENT_CODES:
        return ClientFailed(text)
    if code in RESTART_CODES:
        return Restart(text)
    return RetryableError(text)


def result_path(status: Mapping[str, Any]) -> Path:
    """What a completed transfer produced: its file, or the top folder of a multi-file torrent."""
    torrent = status.get("bittorrent") or {}
    name = (torrent.get("info") or {}).get("name")
    if torrent.get("mode") == "multi" and name:
        return Path(status["dir"]) / name
    return Path(status["files"][0]["path"])


def as_jobs(statuses: list[dict[str, Any]], staging_dir: Path | None = None) -> list[ClientJob]:
    """One ClientJob per family of transfers (a magnet and the download it led to).

    A job whose ``dir`` is a work directory under ``staging_dir`` and whose GID is
    ``gid_for("hauler-<that directory's name>")`` is Hauler's: its ``tag`` is set.
    """
    by_gid = {s["gid"]: s for s in statuses}
    jobs = []
    for status in statuses:
        if status.get("following") in by_gid:
            continue  # a member of a family whose root is listed
        leaf, fetched_metadata = status, False
        seen = {status["gid"]}
        while leaf.get("followedBy"):
            follower = by_gid.get(leaf["followedBy"][0])
            if follower is None or follower["gid"] in seen:
                break
            leaf, fetched_metadata = follower, True
            seen.add(follower["gid"])
        jobs.append(_job(status, leaf, fetched_metadata, staging_dir))
    return jobs


def _job(
    root: dict[str, Any], leaf: dict[str, Any], fetched_metadata: bool, staging_dir: Path | None
) -> ClientJob:
    state = STATES.get(leaf["status"], JobState.QUEUED)
    metadata_only = bool(leaf.get("followedBy")) or _fetches_metadata(leaf, fetched_metadata)
    if state is JobState.COMPLETED and metadata_only:
        state = JobState.DOWNLOADING  # the metadata is in; the download it names is not yet
    total = int(leaf.get("totalLength") or 0)
    code = leaf.get("errorCode")
    status = f"{leaf['status']}" + (f"/{code}" if leaf["status"] == "error" and code else "")
    path = None
    if state is JobState.COMPLETED and leaf.get("files"):
        path = str(result_path(leaf))
    details = {"errorCode": str(code)} if code is not None else {}
    if fetched_metadata:
        details["followedBy"] = str(leaf["gid"])
    return ClientJob(
        client="aria2",
        job_id=root["gid"],
        state=state,
        status=status,
        name=_name(leaf),
        tag=_tag(root, staging_dir),
        bytes_done=int(leaf.get("completedLength") or 0),
        bytes_total=total or None,
        rate=float(leaf.get("downloadSpeed") or 0.0),
        message=(leaf.get("errorMessage") or None) if state is JobState.FAILED else None,
        details=details,
        path=path,
    )


def _fetches_metadata(status: dict[str, Any], fetched: bool) -> bool:
    """A magnet's first transfer (``[METADATA]…``) downloads metadata, not the content."""
    files = status.get("files") or []
    return not fetched and bool(files) and str(files[0].get("path", "")).startswith("[METADATA]")


def _name(status: dict[str, Any]) -> str:
    torrent = (status.get("bittorrent") or {}).get("info") or {}
    if torrent.get("name"):
        return str(torrent["name"])
    files = status.get("files") or []
    return Path(files[0]["path"]).name if files and files[0].get("path") else ""


def _tag(status: dict[str, Any], staging_dir: Path | None) -> str | None:
    if staging_dir is None or not status.get("dir"):
        return None
    folder = Path(status["dir"])
    tag = f"hauler-{folder.name}"
    if folder.parent == staging_dir and gid_for(tag) == status["gid"]:
        return tag
    return None


class Aria2Client:
    """Hands downloads to a running aria2 (``aria2c --enable-rpc``).

    Args:
        url: the JSON-RPC endpoint, e.g. ``http://127.0.0.1:6800/jsonrpc``.
        secret: aria2's ``--rpc-secret``.
        poll_interval: seconds between polls of the blocking ``download``.
        timeout: seconds to wait for one RPC answer.
        connections: connections per direct download (aria2's ``split``).
        settle_timeout: seconds to wait for a removed transfer to stop.
        staging_dir: Hauler's staging directory (to recognise its own jobs in ``jobs``).
    """

    name = "aria2"

    def __init__(
        self,
        url: str,
        secret: str,
        poll_interval: float = 1.0,
        *,
        timeout: float = 10.0,
        connections: int = 8,
        settle_timeout: float = 10.0,
        staging_dir: Path | None = None,
    ) -> None:
        self.rpc = Aria2Rpc(url, secret, timeout)
        self.poll_interval = poll_interval
        self.connections = connections
        self.settle_timeout = settle_timeout
        self.staging_dir = staging_dir.resolve() if staging_dir else None

    def affinity(self, link: Link) -> Affinity:
        if link.kind in (LinkKind.MAGNET, LinkKind.TORRENT):
            return Affinity.SPECIALIST
        if link.kind is LinkKind.DIRECT and link.url.lower().startswith(
            ("http://", "https://", "ftp://")
        ):
            return Affinity.COMPATIBLE
        return Affinity.INCOMPATIBLE

    def healthy(self) -> bool:
        try:
            self.rpc.call("getGlobalStat")
        except (HaulerError, Aria2RpcError):
            return False
        return True

    def submit(self, job: Job) -> Submitted:
        """Add the job under the GID of its tag; re-attach when aria2 has it already."""
        gid = gid_for(job.tag)
        status = self.rpc.status(gid)
        if status is not None:
            same_place = status["dir"] == str(job.workdir.resolve())
            if same_place and status["status"] not in ("error", "removed"):
                return Submitted(gid, attached=True)
            self._abandon(gid)  # a stale attempt: start again (the partial data stays)
        self._add(job, gid)
        return Submitted(gid)

    def jobs(self) -> list[ClientJob]:
        """Every transfer aria2 lists: active, waiting and stopped, in one multicall."""
        active, waiting, stopped = self.rpc.multicall(
            ("tellActive", KEYS), ("tellWaiting", 0, LISTED, KEYS), ("tellStopped", 0, LISTED, KEYS)
        )
        return as_jobs([*active, *waiting, *stopped], self.staging_dir)

    def collect(self, job: Job, found: ClientJob) -> Finished:
        if not found.path:
            raise ClientFailed(f"aria2 reports {job.tag} complete but names no file")
        path = staging.inside_workdir(Path(found.path), job, "aria2")
        if not path.exists():
            raise ClientFailed(f"aria2 reports {job.tag} complete, but {path} is not there")
        self._forget_all(found.job_id)
        size = found.bytes_total or found.bytes_done
        return Finished(path=staging.wanted_name(path, job), bytes=size)

    def remove(self, found: ClientJob, *, delete_files: bool) -> None:
        self._abandon(found.job_id)

    def failure(self, found: ClientJob) -> HaulerError:
        if found.state is JobState.DELETED:
            return ClientFailed(f"transfer {found.job_id} was removed from aria2")
        code = found.details.get("errorCode")
        return failure({"errorCode": code, "errorMessage": found.message})

    def download(self, job: Job, progress: ProgressFn) -> Finished:
        """Submit and wait in this thread (see :mod:`hauler.downloads.clients.follow`)."""
        return follow(self, job, progress, self.failure, self.poll_interval)

    def _add(self, job: Job, gid: str) -> None:
        link = job.link
        options = {
            "dir": str(job.workdir.resolve()),  # aria2 has a working directory of its own
            "gid": gid,
            "seed-time": "0",
            "follow-torrent": "mem",
            "continue": "true",
            "auto-file-renaming": "false",
            "split": str(self.connections),
            "max-connection-per-server": str(self.connections),
            "min-split-size": "1M",
        }
        if link.kind is LinkKind.DIRECT and job.filename:
            options["out"] = job.filename
        try:
            if link.local:
                metainfo = base64.b64encode(staging.read_local(link)).decode()
                self.rpc.call("addTorrent", metainfo, [], options)
            else:
                self.rpc.call("addUri", [link.url], options)
        except Aria2RpcError as exc:
            if self.rpc.status(gid) is not None:
                return  # a worker with the same tag added it a moment ago: follow that one
            raise ClientFailed(redact_text(f"aria2 refused {link.url}: {exc.message}")) from None

    def _abandon(self, gid: str) -> None:
        """Remove this tag's transfers (the family) from aria2, running or stopped."""
        try:
            family = self._family(gid)
            for member in family:
                self._stop(member)
            for member in family:
                self._forget(member)
        except (HaulerError, Aria2RpcError) as exc:
            log.warning("could not remove aria2 transfer %s: %s", gid, exc)

    def _family(self, gid: str) -> list[str]:
        """``gid`` and every transfer it led to through ``followedBy``."""
        family, pending = [], [gid]
        while pending:
            member = pending.pop()
            status = None if member in family else self.rpc.status(member)
            if status is None:
                continue
            family.append(member)
            pending.extend(status.get("followedBy") or [])
        return family

    def _stop(self, gid: str) -> None:
        """Remove a running transfer and wait until aria2 has stopped it (forcibly if slow)."""
        status = self.rpc.status(gid)
        if status is None or status["status"] not in RUNNING:
            return
        self.rpc.call("remove", gid)
        if not self._stopped(gid):
            self.rpc.call("forceRemove", gid)
            self._stopped(gid)

    def _stopped(self, gid: str) -> bool:
        deadline = time.monotonic() + self.settle_timeout
        while time.monotonic() < deadline:
            status = self.rpc.status(gid)
            if status is None or status["status"] not in RUNNING:
                return True
            time.sleep(0.1)
        return False

    def _forget(self, gid: str) -> None:
        try:
            self.rpc.call("removeDownloadResult", gid)
        except Aria2RpcError as exc:
            if "not found" not in exc.message:
                raise

    def _forget_all(self, gid: str) -> None:
        """Drop the results of a completed job so its tag can be used afresh."""
        try:
            for member in self._family(gid):
                self._forget(member)
        except (HaulerError, Aria2RpcError) as exc:
            log.warning("could not clear aria2 results of %s: %s", gid, exc)
