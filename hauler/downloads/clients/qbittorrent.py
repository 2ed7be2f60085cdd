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
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hauler.downloads.clients import staging
from hauler.downloads.clients.base import Affinity, ClientFailed, Finished, Job, Submitted
from hauler.downloads.clients.follow import follow
from hauler.downloads.clients.jobs import ClientJob, JobState
from hauler.downloads.clients.qbittorrent_api import QbittorrentApi
from hauler.downloads.links import Link, LinkKind
from hauler.errors import HaulerError, RetryableError
from hauler.progress import ProgressFn
from hauler.redact import redact_text

log = logging.getLogger(__name__)

TAG_PREFIX = "hauler-"  # every tag Hauler gives a job starts so


DONE_STATES = frozenset(
    {"uploading", "stalledUP", "pausedUP", "stoppedUP", "queuedUP", "checkingUP", "forcedUP"}
)
METADATA_STATES = frozenset({"metaDL", "forcedMetaDL"})
FAILED_STATES = frozenset({"error", "missingFiles"})
#: qBittorrent ``state`` values (its Web API's TorrentState) in Hauler's words; a state
#: not listed (a newer qBittorrent's) counts as downloading.
STATES: dict[str, JobState] = {
    **{state: JobState.COMPLETED for state in DONE_STATES},
    **{state: JobState.FAILED for state in FAILED_STATES},
    "metaDL": JobState.STALLED,  # no metadata yet: nobody has sent it so far
    "forcedMetaDL": JobState.STALLED,
    "stalledDL": JobState.STALLED,  # no peer sends data now
    "downloading": JobState.DOWNLOADING,
    "forcedDL": JobState.DOWNLOADING,
    "queuedDL": JobState.QUEUED,
    "checkingDL": JobState.QUEUED,
    "checkingResumeData": JobState.QUEUED,
    "allocating": JobState.QUEUED,
    "pausedDL": JobState.PAUSED,
    "stoppedDL": JobState.PAUSED,
    "moving": JobState.POSTPROCESSING,
}


def state_of(state: str) -> JobState:
    """Hauler's state of a torrent in qBittorrent ``state``."""
    return STATES.get(state, JobState.DOWNLOADING)


def as_job(torrent: Mapping[str, Any]) -> ClientJob:
    """One ``torrents/info`` entry as a ClientJob (its tag: the ``hauler-…`` one, if any)."""
    tags = [t.strip() for t in str(torrent.get("tags") or "").split(",") if t.strip()]
    ours = next((t for t in tags if t.startswith(TAG_PREFIX)), None)
    size = int(torrent.get("size") or 0)
    state = str(torrent.get("state", ""))
    found = state_of(state)
    return ClientJob(
        client="qbittorrent",
        job_id=str(torrent["hash"]),
        state=found,
        status=state,
        name=str(torrent.get("name") or ""),
        tag=ours,
        category=torrent.get("category") or None,
        bytes_done=int(torrent.get("completed") or 0),
        bytes_total=size or None,
        rate=float(torrent.get("dlspeed") or 0.0),
        message=f"torrent is in state {state}" if found is JobState.FAILED else None,
        details={
            key: str(torrent[key])
            for key in ("save_path", "progress", "num_seeds", "num_leechs", "amount_left")
            if key in torrent
        },
        path=str(_content_path(torrent)) if torrent.get("save_path") else None,
    )


def failure(torrent: Mapping[str, Any]) -> HaulerError:
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
        poll_interval: seconds between polls of the blocking ``download``.
        timeout: seconds to wait for one API answer.
        add_timeout: seconds for an added torrent to show up under its tag (a .torrent URL
            that qBittorrent cannot fetch or parse never does).
        settle_timeout: seconds to wait for a deleted torrent to go.
        category: list only this category's torrents in ``jobs`` ("" = all).
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
        category: str = "",
    ) -> None:
        self.api = QbittorrentApi(url, username, password, timeout)
        self.category = category
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

    def submit(self, job: Job) -> Submitted:
        """Add the torrent tagged ``job.tag``; re-attach when qBittorrent has it already."""
        torrent = self._find(job.tag)
        if torrent is not None:
            same_place = Path(torrent["save_path"]) == job.workdir.resolve()
            if same_place and state_of(torrent["state"]) is not JobState.FAILED:
                return Submitted(str(torrent["hash"]), attached=True)
            self._remove(job.tag, delete_files=False)  # a stale attempt: start again
        self._add(job)
        return Submitted(str(self._await_listing(job)["hash"]))

    def jobs(self) -> list[ClientJob]:
        """Every torrent qBittorrent lists (of ``category``, when set): one ``torrents/info``."""
        query = {"category": self.category} if self.category else {}
        return [as_job(t) for t in self.api.get("torrents/info", **query)]

    def collect(self, job: Job, found: ClientJob) -> Finished:
        if not found.path:
            raise ClientFailed(f"qBittorrent reports {job.tag} complete but names no file")
        path = staging.inside_workdir(Path(found.path), job, "qBittorrent")
        self._remove(job.tag, delete_files=False)
        size = found.bytes_total or found.bytes_done
        return Finished(path=staging.wanted_name(path, job), bytes=size)

    def remove(self, found: ClientJob, *, delete_files: bool) -> None:
        try:
            delete = {"hashes": found.job_id, "deleteFiles": str(delete_files).lower()}
            self.api.request("POST", "torrents/delete", data=delete)
            self._await_gone(found.job_id)
            if found.tag:
                self.api.request("POST", "torrents/deleteTags", data={"tags": found.tag})
        except HaulerError as exc:
            log.warning("could not delete qBittorrent torrent %s: %s", found.job_id, exc)

    def failure(self, found: ClientJob) -> HaulerError:
        if found.state is JobState.DELETED:
            return ClientFailed(f"the torrent {found.job_id} was removed from qBittorrent")
        return failure({"name": found.name, "state": found.status})

    def download(self, job: Job, progress: ProgressFn) -> Finished:
        """Submit and wait in this thread (see :mod:`hauler.downloads.clients.follow`)."""
        return follow(self, job, progress, self.failure, self.poll_interval)

    def _find(self, tag: str) -> dict[str, Any] | None:
        torrents = self.api.get("torrents/info", tag=tag)
        return torrents[0] if torrents else None

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

    def _await_listing(self, job: Job) -> dict[str, Any]:
        """Wait for the added torrent to appear under the job's tag; its listing.

        Raises:
            RetryableError: qBittorrent already has this magnet's torrent (another task's).
            ClientFailed: nothing appeared within ``add_timeout``.
        """
        deadline = time.monotonic() + self.add_timeout
        info_hash = hex_info_hash(job.link.info_hash)
        while (torrent := self._find(job.tag)) is None:
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
        return torrent

    def _held_by_another(self, info_hash: str, tag: str) -> bool:
        """True when qBittorrent has this torrent without ``tag`` (it keeps one per hash)."""
        torrents = self.api.get("torrents/info", hashes=info_hash)
        return any(tag not in t.get("tags", "").split(", ") for t in torrents)

    def _remove(self, tag: str, *, delete_files: bool) -> None:
        """Delete this tag's torrent (with its files if ``delete_files``) and the tag itself.

        Waits until qBittorrent no longer lists the torrent, so that the same torrent can
        be added again at once (qBittorrent deletes asynchronously).
        """
        try:
            torrent = self._find(tag)
            if torrent is not None:
                delete = {"hashes": torrent["hash"], "deleteFiles": str(delete_files).lower()}
                self.api.request("POST", "torrents/delete", data=delete)
                self._await_gone(torrent["hash"])
            self.api.request("POST", "torrents/deleteTags", data={"tags": tag})
        except HaulerError as exc:
            log.warning("could not delete qBittorrent torrent %s: %s", tag, exc)

    def _await_gone(self, info_hash: str) -> None:
        deadline = time.monotonic() + self.settle_timeout
        while self.api.get("torrents/info", hashes=info_hash):
            if time.monotonic() > deadline:
                log.warning("qBittorrent still lists deleted torrent %s", info_hash)
                return
            time.sleep(0.1)


def _content_path(torrent: Mapping[str, Any]) -> Path:
    """The downloaded file, or the top folder of a multi-file torrent."""
    return Path(torrent.get("content_path") or Path(torrent["save_path"]) / torrent["name"])
