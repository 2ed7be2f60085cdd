"""What a download client says about one of its jobs, read in one pass over the client.

The watch (Hauler's own transfers) and failure polling (foreign jobs) both read a client's
queue and history as a list of ``ClientJob``; classification reads ``status``, ``message``
and ``details`` — the client's own words, never a paraphrase.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum


class JobState(StrEnum):
    """Where a client's job stands, in Hauler's words (the client's own is ``status``)."""

    QUEUED = "queued"
    DOWNLOADING = "downloading"
    PAUSED = "paused"
    POSTPROCESSING = "postprocessing"  # verifying, repairing, unpacking, moving
    COMPLETED = "completed"
    FAILED = "failed"
    STALLED = "stalled"
    DELETED = "deleted"


@dataclass(frozen=True)
class ClientJob:
    """One job as a client lists it in its queue or history."""

    client: str  # aria2 | qbittorrent | nzbget | sabnzbd
    job_id: str  # aria2 gid, qBittorrent info hash, NZBGet NZBID, SABnzbd nzo_id
    state: JobState
    status: str  # the client's own status word or code (qBittorrent state, aria2 errorCode …)
    name: str = ""
    tag: str | None = None  # Hauler's tag when Hauler submitted the job, else None
    category: str | None = None
    bytes_done: int = 0
    bytes_total: int | None = None
    rate: float | None = None  # bytes per second
    message: str | None = None  # the client's own failure text (fail_message, errorMessage …)
    details: Mapping[str, str] = field(default_factory=dict)  # other raw fields (ParStatus …)
    path: str | None = None  # where the client put the finished content
