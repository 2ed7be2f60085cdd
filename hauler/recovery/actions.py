"""What recovery asks of a client: retry a failed job, pause and resume, report free space.

One implementation per client, on top of the client classes' own API access (aria2's
RPC, qBittorrent's Web API session, NZBGet's and SABnzbd's ``call``), so those classes
stay as the watch built them:

- aria2: remove the stopped result and add the job again (same URIs and directory;
  Hauler's own jobs go back under the GID of their tag); ``pauseAll`` / ``unpauseAll``;
  free space of its ``dir`` (on this host).
- qBittorrent: ``torrents/recheck``, ``torrents/reannounce``, then ``torrents/resume``
  (``torrents/start`` from 5.0); pause/resume all; ``server_state.free_space_on_disk``.
- NZBGet: ``editqueue`` ``HistoryRetryFailed`` (fetch only the failed articles) for
  incomplete jobs, ``HistoryRedownload`` otherwise; ``pausedownload`` /
  ``resumedownload``; ``status`` ``FreeDiskSpaceHi``/``Lo`` (of its DestDir).
- SABnzbd: ``mode=retry`` (answers a *new* nzo_id); ``mode=pause`` / ``mode=resume``;
  ``queue`` ``diskspace1`` (GB free in its download folder).
"""

from __future__ import annotations

import shutil
import time
from typing import Any, Protocol

from hauler.downloads.clients.base import ClientFailed, DownloadClient
from hauler.errors import PermanentError

RUNNING = frozenset({"active", "waiting", "paused"})  # aria2 statuses of a live transfer


class NotSupported(PermanentError):
    """Raised when a client cannot do what recovery asks of it."""


class ClientActions(Protocol):
    """Recovery's view of one client."""

    name: str

    def retry(self, job_id: str, *, category: str, source: str | None = None) -> str:
        """Start the failed job ``job_id`` again; the id the client knows it by now.

        ``source`` is the download's URL or magnet, for a client that must be given it
        again (aria2, when the stopped transfer names no URI: a magnet)."""
        ...

    def pause(self) -> None:
        """Stop downloading (every job)."""
        ...

    def resume(self) -> None:
        """Download again after ``pause``."""
        ...

    def free_bytes(self) -> int | None:
        """Free bytes where the client writes, or None when it does not say."""
        ...


class Aria2Actions:
    name = "aria2"

    def __init__(self, client: Any) -> None:
        self.rpc = client.rpc

    def retry(self, job_id: str, *, category: str, source: str | None = None) -> str:
        status = self.rpc.call("tellStatus", job_id, ["gid", "status", "dir", "files"])
        if status.get("status") in RUNNING:
            if category != "stalled":
                return job_id  # aria2 has it running again already
            self._stop(job_id)  # stalled: stop it, then add it afresh
        uris = [u["uri"] for f in status.get("files") or [] for u in f.get("uris") or []]
        uris = list(dict.fromkeys(uris))
        if not uris and source and (source.startswith("magnet:") or "://" in source):
            uris = [source]  # a magnet's transfer lists no URI: give aria2 the link again
        if not uris:
            raise NotSupported(f"aria2 transfer {job_id} has no URI to add again")
        self.rpc.call("removeDownloadResult", job_id)
        options = {"dir": status["dir"], "gid": job_id}
        return str(self.rpc.call("addUri", uris, options))

    def _stop(self, gid: str, timeout: float = 10.0) -> None:
        """``forceRemove`` and wait (bounded) until aria2 says it has stopped."""
        self.rpc.call("forceRemove", gid)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.rpc.call("tellStatus", gid, ["status"]).get("status") not in RUNNING:
                return
            time.sleep(0.1)
        raise ClientFailed(f"aria2 did not stop transfer {gid} within {timeout:g}s")

    def pause(self) -> None:
        self.rpc.call("pauseAll")

    def resume(self) -> None:
        self.rpc.call("unpauseAll")

    def free_bytes(self) -> int | None:
        folder = self.rpc.call("getGlobalOption").get("dir")
        try:
            return shutil.disk_usage(folder).free if folder else None
        except OSError:  # aria2 runs on another host: its folder is not visible here
            return None


class QbittorrentActions:
    name = "qbittorrent"

    def __init__(self, client: Any) -> None:
        self.api = client.api

    def retry(self, job_id: str, *, category: str, source: str | None = None) -> str:
        hashes = {"hashes": job_id}
        self.api.request("POST", "torrents/recheck", data=hashes)
        self.api.request("POST", "torrents/reannounce", data=hashes)
        self._start(job_id)
        return job_id

    def pause(self) -> None:
        response = self.api.request("POST", "torrents/pause", data={"hashes": "all"})
        if response.status_code == 404:  # qBittorrent 5: pause became stop
            self.api.request("POST", "torrents/stop", data={"hashes": "all"})

    def resume(self) -> None:
        self._start("all")

    def free_bytes(self) -> int | None:
        state = (self.api.get("sync/maindata") or {}).get("server_state") or {}
        free = state.get("free_space_on_disk")  # -1 until qBittorrent has looked
        return int(free) if isinstance(free, int | float) and free >= 0 else None

    def _start(self, hashes: str) -> None:
        response = self.api.request("POST", "torrents/resume", data={"hashes": hashes})
        if response.status_code == 404:
            self.api.request("POST", "torrents/start", data={"hashes": hashes})


class NzbgetActions:
    name = "nzbget"

    def __init__(self, client: Any) -> None:
        self.client = client

    def retry(self, job_id: str, *, category: str, source: str | None = None) -> str:
        command = "HistoryRetryFailed" if category == "incomplete" else "HistoryRedownload"
        if not self.client.call("editqueue", command, "", [int(job_id)]):
            raise ClientFailed(f"NZBGet refused {command} for job {job_id}")
        return job_id  # NZBGet keeps the NZBID when a history item goes back to the queue

    def pause(self) -> None:
        self.client.call("pausedownload")

    def resume(self) -> None:
        self.client.call("resumedownload")

    def free_bytes(self) -> int | None:
        status = self.client.call("status") or {}
        high, low = status.get("FreeDiskSpaceHi"), status.get("FreeDiskSpaceLo")
        if not isinstance(high, int) or not isinstance(low, int):
            return None
        free = (high << 32) | low  # XmlRpc.cpp: FileSystem::FreeDiskSize(DestDir), split
        return None if free >= 2**63 else free  # -1: DestDir cannot be read (not made yet)


class SabnzbdActions:
    name = "sabnzbd"

    def __init__(self, client: Any) -> None:
        self.client = client

    def retry(self, job_id: str, *, category: str, source: str | None = None) -> str:
        self._await_retryable(job_id)
        answer = self.client.call("retry", {"value": job_id})
        new = answer.get("nzo_id")
        if not answer.get("status") or not new:
            raise ClientFailed(f"SABnzbd could not retry {job_id}: {answer}")
        return str(new)

    def _await_retryable(self, job_id: str, timeout: float = 15.0) -> None:
        """SABnzbd lists a failed job before its post-processing has written it to the
        history database; ``mode=retry`` answers "item does not exist" until then. Its
        history ``retry`` flag (api.py build_history) says when it can (bounded wait)."""
        deadline = time.monotonic() + timeout
        while True:
            slots = self.client.call("history", {"nzo_ids": job_id})["history"]["slots"]
            slot = next((x for x in slots if x.get("nzo_id") == job_id), None)
            if slot is not None and slot.get("retry"):
                return
            if slot is None and time.monotonic() > deadline:
                raise ClientFailed(f"SABnzbd has no job {job_id} in its history")
            if time.monotonic() > deadline:
                raise ClientFailed(f"SABnzbd cannot retry {job_id}: its files are gone")
            time.sleep(0.2)

    def pause(self) -> None:
        self.client.call("pause")

    def resume(self) -> None:
        self.client.call("resume")

    def free_bytes(self) -> int | None:
        queue = self.client.call("queue", {"limit": "0"}).get("queue") or {}
        value = queue.get("diskspace1")
        try:
            return None if value is None else int(float(value) * 1024**3)
        except (TypeError, ValueError):
            return None


_ACTIONS: dict[str, type] = {
    "aria2": Aria2Actions,
    "qbittorrent": QbittorrentActions,
    "nzbget": NzbgetActions,
    "sabnzbd": SabnzbdActions,
}


def actions_for(client: DownloadClient) -> ClientActions:
    """Recovery's actions on ``client``.

    Raises:
        NotSupported: the client (the in-process HTTP one) has no job to retry.
    """
    kind = _ACTIONS.get(client.name)
    if kind is None:
        raise NotSupported(f"{client.name} has no recovery actions")
    actions: ClientActions = kind(client)
    return actions
