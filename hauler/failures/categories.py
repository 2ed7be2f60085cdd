"""Failure categories, their severity, whether retrying the same release can help, and the
ordered recovery strategies for each."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Category(StrEnum):
    """What went wrong, in Hauler's words (the client's own words stay in the message)."""

    INCOMPLETE = "incomplete"  # articles or pieces missing on the server / from the swarm
    REPAIR_FAILED = "repair-failed"  # par2 could not repair (too few repair blocks)
    UNPACK_FAILED = "unpack-failed"  # the archive inside would not unpack (CRC, corrupt)
    PASSWORD = "password"  # a password is needed, or encryption was detected
    DUPLICATE = "duplicate"  # the client refused it as a duplicate of something it has
    DISK_FULL = "disk-full"  # no room left where the client writes: a fleet condition
    NETWORK = "network"  # timeouts, refused connections, 5xx, name resolution
    NOT_FOUND = "not-found"  # 404, gone, or unauthorised (401/403, bad credentials)
    CHECKSUM = "checksum"  # the data did not match its checksum
    STALLED = "stalled"  # no progress for too long (no seeds, no metadata)
    UNWANTED = "unwanted"  # the client rejected the content (unwanted extension, bad)
    STOPPED = "stopped"  # stopped, paused or deleted by a person: reported, not recovered
    UNKNOWN = "unknown"  # a text no rule matches (a translated install lands here)


class Severity(StrEnum):
    """How loudly a failure is reported."""

    INFO = "info"
    WARNING = "warning"
    ERROR = "error"
    CRITICAL = "critical"


class Strategy(StrEnum):
    """One way to recover, tried in the order a category lists them."""

    RETRY = "retry"  # the same release again in the same client (retry / redownload / re-add)
    MIRROR = "mirror"  # another URL, NZB or magnet of the same content (``mirrors=``)
    ARR = "arr"  # tell the Sonarr/Radarr that grabbed it: blocklist and search again
    PAUSE_CLIENT = "pause-client"  # a fleet condition: stop handing jobs to the client
    GIVE_UP = "give-up"  # dead-letter with the category and the client's own message
    REPORT = "report"  # record and tell, touch nothing (foreign jobs, or stopped by hand)


@dataclass(frozen=True)
class Policy:
    """What Hauler does about one category."""

    severity: Severity
    retry_same: bool  # can retrying the same release in the same client help?
    strategies: tuple[Strategy, ...]  # tried in this order


_R, _M, _A, _G = Strategy.RETRY, Strategy.MIRROR, Strategy.ARR, Strategy.GIVE_UP

POLICIES: dict[Category, Policy] = {
    Category.INCOMPLETE: Policy(Severity.ERROR, True, (_R, _M, _A, _G)),
    Category.REPAIR_FAILED: Policy(Severity.ERROR, False, (_M, _A, _G)),
    Category.UNPACK_FAILED: Policy(Severity.ERROR, False, (_M, _A, _G)),
    Category.PASSWORD: Policy(Severity.ERROR, False, (_M, _A, _G)),
    Category.DUPLICATE: Policy(Severity.WARNING, False, (_G,)),
    Category.DISK_FULL: Policy(Severity.CRITICAL, True, (Strategy.PAUSE_CLIENT, _R, _G)),
    Category.NETWORK: Policy(Severity.WARNING, True, (_R, _M, _A, _G)),
    Category.NOT_FOUND: Policy(Severity.ERROR, False, (_M, _A, _G)),
    Category.CHECKSUM: Policy(Severity.ERROR, True, (_R, _M, _A, _G)),
    Category.STALLED: Policy(Severity.WARNING, True, (_R, _M, _A, _G)),
    Category.UNWANTED: Policy(Severity.WARNING, False, (_A, _G)),
    Category.STOPPED: Policy(Severity.INFO, False, (Strategy.REPORT,)),
    Category.UNKNOWN: Policy(Severity.ERROR, True, (_R, _M, _A, _G)),
}
