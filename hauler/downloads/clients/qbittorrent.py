"""The qBittorrent client: magnets and .torrent files through the Web API v2, labelled by tag.

A job's torrent carries the job's tag (``tags=job.tag``), so a redelivered task finds it
with ``torrents/info?tag=…`` — even after a worker restart — and re-attaches instead of
adding it again. Once complete the torrent is deleted from qBittorrent (its files are kept)
and the tag with it, so qBittorrent does not keep seeding or collecting tags.
"""

from __future__ import annotations

import base64
import binascii
import logging
import time
from enum import Enum
from pathlib import Path
from typing import Any

from hauler.downloads.clients import staging
from hauler.downloads.clients.base import Affinity, ClientFailed, Finished, Job
from hauler.downloads.clients.qbittorrent_api import QbittorrentApi
from hauler.downloads.links import Link, LinkKind
from hauler.errors import HaulerError, RetryableError, TooLarge
from hauler.progress import Progress, ProgressFn
from hauler.redact import redact_text

log = logging.getLogger(__name__)


class Phase(Enum):
    """Where a torrent stands, from Hauler's point of view."""

    METADATA = "metadata"  # a magnet still fetching its metadata
    DOWNLOADING = "downloading"  # queued, checking, stalled, paused or moving data
    DONE = "done"  # every wanted byte is on disk (qBittorrent may be seeding)
    FAILED = "failed"


DONE_STATES = frozenset(
    {"uploading", "stalledUP", "pausedUP", "stoppedUP", "queuedUP", "checkingUP", "forcedUP"}
)
METADATA_STATES = frozenset({"metaDL", "forcedMetaDL"})
FAILED_STATES = frozenset({"error", "missingFiles"})


def phase_of(state: str) -> Phase:
    """The phase of a torrent in qBittorrent ``state`` (unknown states count as downloading)."""
    if state in DONE_STATES:
        return Phase.DONE
    if state in METADATA_STATES:
        return Phase.METADATA
    if state in FAILED_STATES:
        return Phase.FAILED
    return Phase.DOWNLOADING


def failure(torrent: dict[str, Any]) -> HaulerError:
    """The error for a torrent in a failed state.

    ``missingFiles`` (its data vanished from the staging directory) is permanent;
    ``error`` is a file error in qBittorrent (disk full, a stale mount…), worth a retry.
    """
    text = f"qBittorrent torrent {torrent.get('name')!r} is in state {torrent['state']}"
    if torrent["state"] == "missingFiles":
        return ClientFailed(text)
    return RetryableError(text)


def hex_info_hash(info_hash: str | None) -> str | None:
    """A magnet's v1 info hash as 40 lowercase hex digits (it may come in base32)."""
    if info_hash is None:
        return None
    if len(info_hash) == 40:
        return info_hash.lower()
    if len(info_hash) == 32:
        try:
            return base64.b32decode(info_hash.upper()).hex()
        except binascii.Error:
            return None
    return None


class QbittorrentClient:
    """Downloads through a running qBittorrent (``qbittorrent-nox``) and its Web UI.

    Args:
        url: the Web UI, e.g. ``http://127.0.0.1:8080``.
        username: the Web UI user.
        password: the Web UI password.
        poll_interval: seconds between status polls.
        timeout: seconds to wait for one API answer.
        add_timeout: seconds for an added torrent to show up under its tag (a .torrent URL
            that qBittorrent cannot fetch or parse never does).
        settle_timeout: seconds to wait for a deleted torrent to go.
    """

    name = "qbittorrent"

    def __init__(
        self,
        url: str,
        username: str,
        password: str,
        poll_interval: float = 1.0,
        *,
        timeout: float = 10.0,
        add_timeout: float = 30.0,
        settle_timeout: float = 10.0,
    ) -> None:
        self.api = QbittorrentApi(url, username, password, timeout)
        self.poll_interval = poll_interval
        self.add_timeout = add_timeout
        self.settle_timeout = settle_timeout

    def affinity(self, link: Link) -> Affinity:
        if link.kind in (LinkKind.MAGNET, LinkKind.TORRENT):
            return Affinity.SPECIALIST
        return Affinity.INCOMPATIBLE

    def healthy(self) -> bool:
        try:
            return self.api.request("GET", "app/version").status_code == 200
        except HaulerError:
            return False

    def download(self, job: Job, progress: ProgressFn) -> Finished:
        self._attach_or_add(job)
        try:
            torrent = self._wait(job, progress)
            path = staging.inside_workdir(_content_path(torrent), job, "qBittorrent")
        except Exception as exc:  # not BaseException: a dying worker leaves it to re-attach
            resumable = isinstance(exc, RetryableError)
            self._remove(job, delete_files=not resumable)
            if not resumable:
                staging.empty(job.workdir)
            raise
        self._remove(job, delete_files=False)
        return Finished(path=staging.wanted_name(path, job), bytes=int(torrent["size"]))

    def _find(self, tag: str) -> dict[str, Any] | None:
        torrents = self.api.get("torrents/info", tag=tag)
        return torrents[0] if torrents else None

    def _attach_or_add(self, job: Job) -> None:
        """Re-attach to this tag's torrent when it is usable; otherwise (re)add it."""
        torrent = self._find(job.tag)
        if torrent is not None:
            same_place = Path(torrent["save_path"]) == job.workdir.resolve()
            if same_place and phase_of(torrent["state"]) is not Phase.FAILED:
                return
            self._remove(job, delete_files=False)  # a stale attempt: start again
        self._add(job)
        self._await_listing(job)

    def _add(self, job: Job) -> None:
        link = job.link
        savepath = str(job.workdir.resolve())
        fields = {"tags": job.tag, "savepath": savepath, "paused": "false"}
        fields["autoTMM"] = "false"  # else a category's path would replace the savepath
        if link.local:
            upload = {"torrents": (Path(link.url).name, staging.read_local(link))}
            response = self.api.request("POST", "torrents/add", data=fields, files=upload)
        else:
            response = self.api.request("POST", "torrents/add", data={**fields, "urls": link.url})
        answer = response.text.strip()
        if response.status_code != 200 or answer != "Ok.":
            raise ClientFailed(
                redact_text(
                    f"qBittorrent refused {link.url}: HTTP {response.status_code} {answer!r} "
                    "(not a torrent, or one it already has)"
                )
            )

    def _await_listing(self, job: Job) -> None:
        """Wait for the added torrent to appear under the job's tag.

        Raises:
            RetryableError: qBittorrent already has this magnet's torrent (another task's).
            ClientFailed: nothing appeared within ``add_timeout``.
        """
        deadline = time.monotonic() + self.add_timeout
        info_hash = hex_info_hash(job.link.info_hash)
        while self._find(job.tag) is None:
            if info_hash and self._held_by_another(info_hash, job.tag):
                raise RetryableError(
                    f"qBittorrent is already downloading {info_hash} for another task"
                )
            if time.monotonic() > deadline:
                raise ClientFailed(
                    f"qBittorrent did not add {job.link.shown} within {self.add_timeout:g}s "
                    "(a .torrent it cannot fetch or parse)"
                )
            time.sleep(min(self.poll_interval, 0.5))

    def _held_by_another(self, info_hash: str, tag: str) -> bool:
        """True when qBittorrent has this torrent without ``tag`` (it keeps one per hash)."""
        torrents = self.api.get("torrents/info", hashes=info_hash)
        return any(tag not in t.get("tags", "").split(", ") for t in torrents)

    def _wait(self, job: Job, progress: ProgressFn) -> dict[str, Any]:
        """Poll until the torrent has all its data; its last listing."""
        while True:
            torrent = self._find(job.tag)
            if torrent is None:
                raise ClientFailed(f"the torrent tagged {job.tag} was removed from qBittorrent")
            phase = phase_of(torrent["state"])
            if phase is Phase.FAILED:
                raise failure(torrent)
            if phase is Phase.METADATA:
                progress(Progress(0, None, 0.0))
            else:
                _check_size(torrent, job)
                size = int(torrent["size"])
                progress(Progress(int(torrent["completed"]), size or None, torrent["dlspeed"]))
            if phase is Phase.DONE:
                return torrent
            time.sleep(self.poll_interval)

    def _remove(self, job: Job, *, delete_files: bool) -> None:
        """Delete this tag's torrent (with its files if ``delete_files``) and the tag itself.

        Waits until qBittorrent no longer lists the torrent, so that the same torrent can
        be added again at once (qBittorrent deletes asynchronously).
        """
        try:
            torrent = self._find(job.tag)
            if torrent is not None:
                delete = {"hashes": torrent["hash"], "deleteFiles": str(delete_files).lower()}
                self.api.request("POST", "torrents/delete", data=delete)
                self._await_gone(torrent["hash"])
            self.api.request("POST", "torrents/deleteTags", data={"tags": job.tag})
        except HaulerError as exc:
            log.warning("could not delete qBittorrent torrent %s: %s", job.tag, exc)

    def _await_gone(self, info_hash: str) -> None:
        deadline = time.monotonic() + self.settle_timeout
        while self.api.get("torrents/info", hashes=info_hash):
            if time.monotonic() > deadline:
                log.warning("qBittorrent still lists deleted torrent %s", info_hash)
                return
            time.sleep(0.1)


def _check_size(torrent: dict[str, Any], job: Job) -> None:
    size = int(torrent["size"])
    if job.max_bytes is not None and size > job.max_bytes:
        raise TooLarge(f"{job.link.shown} is {size} bytes, more than max_bytes={job.max_bytes}")


def _content_path(torrent: dict[str, Any]) -> Path:
    """The downloaded file, or the top folder of a multi-file torrent."""
    return Path(torrent.get("content_path") or Path(torrent["save_path"]) / torrent["name"])
