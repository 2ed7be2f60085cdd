"""The aria2 client: magnets, .torrent files and multi-connection direct links over JSON-RPC.

Each job's transfer gets a GID derived from its tag (``gid_for``), so a redelivered task
finds its transfer in aria2 by asking for that GID — even after a worker restart — and
re-attaches instead of adding a second one. Magnets and .torrent URLs first fetch their
metadata; the real download is the transfer named in ``followedBy``.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import re
import time
from pathlib import Path
from typing import Any

from hauler.downloads.clients import staging
from hauler.downloads.clients.aria2_rpc import Aria2Rpc, Aria2RpcError
from hauler.downloads.clients.base import Affinity, ClientFailed, Finished, Job, TooLarge
from hauler.downloads.links import Link, LinkKind
from hauler.errors import HaulerError, RetryableError
from hauler.progress import Progress, ProgressFn
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


def gid_for(tag: str) -> str:
    """The GID (16 hex digits, never all zero) of the transfer labelled ``tag``."""
    gid = hashlib.sha1(tag.encode()).hexdigest()[:16]
    return gid if gid.strip("0") else "0" * 15 + "1"


def failure(status: dict[str, Any]) -> HaulerError:
    """The error to raise for a transfer aria2 stopped with ``errorCode``/``errorMessage``.

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
        if 400 <= http < 500 and http not in (408, 425, 429):
            return ClientFailed(text)
        return RetryableError(text)
    if code in PERMANENT_CODES:
        return ClientFailed(text)
    if code in RESTART_CODES:
        return Restart(text)
    return RetryableError(text)


def result_path(status: dict[str, Any]) -> Path:
    """What a completed transfer produced: its file, or the top folder of a multi-file torrent."""
    torrent = status.get("bittorrent") or {}
    name = (torrent.get("info") or {}).get("name")
    if torrent.get("mode") == "multi" and name:
        return Path(status["dir"]) / name
    return Path(status["files"][0]["path"])


class Aria2Client:
    """Downloads through a running aria2 (``aria2c --enable-rpc``).

    Args:
        url: the JSON-RPC endpoint, e.g. ``http://127.0.0.1:6800/jsonrpc``.
        secret: aria2's ``--rpc-secret``.
        poll_interval: seconds between status polls.
        timeout: seconds to wait for one RPC answer.
        connections: connections per direct download (aria2's ``split``).
        settle_timeout: seconds to wait for a removed transfer to stop.
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
    ) -> None:
        self.rpc = Aria2Rpc(url, secret, timeout)
        self.poll_interval = poll_interval
        self.connections = connections
        self.settle_timeout = settle_timeout

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

    def download(self, job: Job, progress: ProgressFn) -> Finished:
        gid = gid_for(job.tag)
        self._attach_or_add(job, gid)
        try:
            final = self._wait(gid, job, progress)
            path = staging.inside_workdir(result_path(final), job, "aria2")
        except Exception as exc:  # not BaseException: a dying worker leaves it to re-attach
            resumable = isinstance(exc, RetryableError) and not isinstance(exc, Restart)
            self._abandon(gid, job.workdir, keep_data=resumable)
            raise
        self._forget_all(gid)
        return Finished(path=staging.wanted_name(path, job), bytes=int(final["totalLength"]))

    def _attach_or_add(self, job: Job, gid: str) -> None:
        """Re-attach to this tag's transfer when it is usable; otherwise (re)add it."""
        status = self.rpc.status(gid)
        if status is not None:
            same_place = status["dir"] == str(job.workdir.resolve())
            if same_place and status["status"] not in ("error", "removed"):
                return
            self._abandon(gid, job.workdir, keep_data=True)  # a stale attempt: start again
        self._add(job, gid)

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

    def _wait(self, gid: str, job: Job, progress: ProgressFn) -> dict[str, Any]:
        """Poll until the transfer (or the one it is ``followedBy``) completes; its status."""
        current = gid
        fetches_metadata = job.link.kind is not LinkKind.DIRECT and not job.link.local
        while True:
            status = self.rpc.status(current)
            if status is None:
                raise ClientFailed(f"aria2 no longer knows transfer {current} ({job.tag})")
            followers = status.get("followedBy")
            if status["status"] == "complete" and followers:
                current, fetches_metadata = followers[0], False
                continue
            _check(status, job)
            if fetches_metadata:
                progress(Progress(0, None, 0.0))
            else:
                total = int(status["totalLength"])
                done, rate = int(status["completedLength"]), float(status["downloadSpeed"])
                progress(Progress(done, total or None, rate))
            if status["status"] == "complete":
                return status
            time.sleep(self.poll_interval)

    def _abandon(self, gid: str, workdir: Path, *, keep_data: bool) -> None:
        """Remove this tag's transfers from aria2; delete partial data unless ``keep_data``."""
        try:
            family = self._family(gid)
            for member in family:
                self._stop(member)
            for member in family:
                self._forget(member)
        except (HaulerError, Aria2RpcError) as exc:
            log.warning("could not remove aria2 transfer %s: %s", gid, exc)
        if not keep_data:
            staging.empty(workdir)

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


def _check(status: dict[str, Any], job: Job) -> None:
    """Raise when the transfer failed, was removed, or is larger than ``max_bytes``."""
    state = status["status"]
    if state == "error":
        raise failure(status)
    if state == "removed":
        raise ClientFailed(f"transfer {status['gid']} ({job.tag}) was removed from aria2")
    size = max(int(status["totalLength"]), int(status["completedLength"]))
    if job.max_bytes is not None and size > job.max_bytes:
        raise TooLarge(f"{job.link.shown} is {size} bytes, more than max_bytes={job.max_bytes}")
