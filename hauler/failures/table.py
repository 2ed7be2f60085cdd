"""The classification table: (client, field, the client's own text or code) → category.

Every pattern is copied from the client's source at the version Debian ships (SABnzbd
3.7.1, NZBGet 21.0, qBittorrent 4.5.2, aria2 1.36.0); ``source`` says the file and line.
SABnzbd's are gettext msgids (``T("…")``): ``%s``/``%d`` stand for the inserted value, and
a translated install's texts match nothing, so they classify as ``unknown``.

``field`` is ``message`` (the failure text, matched from its start), ``status`` (the
client's status word or code, matched whole), or a key of ``ClientJob.details`` (matched
whole; aria2's ``errorCode`` is also read from a status such as ``error/29``). Rules are
tried in order: the first that matches wins.
"""

from __future__ import annotations

from dataclasses import dataclass

from hauler.failures.categories import Category

C = Category


@dataclass(frozen=True)
class Rule:
    """One row of the table."""

    client: str  # aria2 | qbittorrent | nzbget | sabnzbd | * (any)
    field: str  # message | status | a details key (ParStatus, UnpackStatus …)
    pattern: str  # the client's text; in messages %s / %d stand for an inserted value
    category: Category
    source: str  # where the text comes from: project tag:file:line


SAB = "sabnzbd 3.7.1 sabnzbd/"
NZBGET = "nzbget v21.0 daemon/"
QBT = "qBittorrent release-4.5.2 src/webui/api/serialize/serialize_torrent.cpp:"
ARIA2 = "aria2 release-1.36.0 src/"

_ARIA2_CODES: tuple[tuple[int, str, Category], ...] = (
    (1, "UNKNOWN_ERROR", C.UNKNOWN),
    (2, "TIME_OUT", C.NETWORK),
    (3, "RESOURCE_NOT_FOUND", C.NOT_FOUND),
    (4, "MAX_FILE_NOT_FOUND", C.NOT_FOUND),
    (5, "TOO_SLOW_DOWNLOAD_SPEED", C.STALLED),
    (6, "NETWORK_PROBLEM", C.NETWORK),
    (7, "IN_PROGRESS", C.STOPPED),
    (8, "CANNOT_RESUME", C.NETWORK),
    (9, "NOT_ENOUGH_DISK_SPACE", C.DISK_FULL),
    (10, "PIECE_LENGTH_CHANGED", C.CHECKSUM),
    (11, "DUPLICATE_DOWNLOAD", C.DUPLICATE),
    (12, "DUPLICATE_INFO_HASH", C.DUPLICATE),
    (13, "FILE_ALREADY_EXISTS", C.DUPLICATE),
    (14, "FILE_RENAMING_FAILED", C.UNKNOWN),
    (15, "FILE_OPEN_ERROR", C.UNKNOWN),
    (16, "FILE_CREATE_ERROR", C.UNKNOWN),
    (17, "FILE_IO_ERROR", C.UNKNOWN),
    (18, "DIR_CREATE_ERROR", C.UNKNOWN),
    (19, "NAME_RESOLVE_ERROR", C.NETWORK),
    (20, "METALINK_PARSE_ERROR", C.UNWANTED),
    (21, "FTP_PROTOCOL_ERROR", C.NETWORK),
    (22, "HTTP_PROTOCOL_ERROR", C.NETWORK),
    (23, "HTTP_TOO_MANY_REDIRECTS", C.NOT_FOUND),
    (24, "HTTP_AUTH_FAILED", C.NOT_FOUND),
    (25, "BENCODE_PARSE_ERROR", C.UNWANTED),
    (26, "BITTORRENT_PARSE_ERROR", C.UNWANTED),
    (27, "MAGNET_PARSE_ERROR", C.UNWANTED),
    (28, "OPTION_ERROR", C.UNKNOWN),
    (29, "HTTP_SERVICE_UNAVAILABLE", C.NETWORK),
    (30, "JSON_PARSE_ERROR", C.UNKNOWN),
    (31, "REMOVED", C.STOPPED),
    (32, "CHECKSUM_ERROR", C.CHECKSUM),
)

RULES: tuple[Rule, ...] = (
    # Any client: the C library's text for ENOSPC, which SABnzbd looks for in 7-Zip's
    # output and aria2 / qBittorrent pass on in their file-error messages.
    Rule("*", "message", "No space left on device", C.DISK_FULL, SAB + "newsunpack.py:1071"),
    # --- SABnzbd: history ``fail_message`` (nzo.fail_msg) -------------------------------
    Rule(
        "sabnzbd", "message", "Aborted, cannot be completed", C.INCOMPLETE, SAB + "nzbstuff.py:1213"
    ),
    Rule(
        "sabnzbd",
        "message",
        "Download failed - Not on your server(s)",
        C.INCOMPLETE,
        SAB + "postproc.py:356",
    ),
    Rule(
        "sabnzbd",
        "message",
        "Download might fail, only %s of required %s available",
        C.INCOMPLETE,
        SAB + "postproc.py:354",
    ),
    Rule(
        "sabnzbd",
        "message",
        "Repair failed, not enough repair blocks (%s short)",
        C.REPAIR_FAILED,
        SAB + "newsunpack.py:1365",
    ),
    Rule(
        "sabnzbd", "message", "Repairing failed, Disk full", C.DISK_FULL, SAB + "newsunpack.py:1419"
    ),
    Rule("sabnzbd", "message", "Repairing failed, %s", C.REPAIR_FAILED, SAB + "newsunpack.py:1161"),
    Rule(
        "sabnzbd",
        "message",
        "Invalid par2 files or invalid PAR2 parameters, cannot verify or repair",
        C.REPAIR_FAILED,
        SAB + "newsunpack.py:1329",
    ),
    Rule(
        "sabnzbd",
        "message",
        "Unpacking failed, archive requires a password",
        C.PASSWORD,
        SAB + "newsunpack.py:816",
    ),
    Rule(
        "sabnzbd", "message", "Aborted, encryption detected", C.PASSWORD, SAB + "assembler.py:228"
    ),
    Rule(
        "sabnzbd",
        "message",
        "Unpacking failed, write error or disk is full?",
        C.DISK_FULL,
        SAB + "newsunpack.py:784",
    ),
    Rule(
        "sabnzbd",
        "message",
        "Unpacking failed, CRC error",
        C.UNPACK_FAILED,
        SAB + "newsunpack.py:772",
    ),
    Rule(
        "sabnzbd",
        "message",
        "Unpacking failed, unable to find %s",
        C.UNPACK_FAILED,
        SAB + "newsunpack.py:766",
    ),
    Rule(
        "sabnzbd",
        "message",
        "Unpacking failed, file too large for filesystem (FAT?)",
        C.UNPACK_FAILED,
        SAB + "newsunpack.py:778",
    ),
    Rule(
        "sabnzbd",
        "message",
        "Unpacking failed, path is too long",
        C.UNPACK_FAILED,
        SAB + "newsunpack.py:792",
    ),
    Rule("sabnzbd", "message", "Unpacking failed, %s", C.UNPACK_FAILED, SAB + "newsunpack.py:569"),
    Rule("sabnzbd", "message", "Unusable RAR file", C.UNPACK_FAILED, SAB + "newsunpack.py:823"),
    Rule("sabnzbd", "message", "Corrupt RAR file", C.UNPACK_FAILED, SAB + "newsunpack.py:831"),
    Rule(
        "sabnzbd", "message", "File join of %s failed", C.UNPACK_FAILED, SAB + "newsunpack.py:478"
    ),
    Rule(
        "sabnzbd",
        "message",
        'Some files failed to verify against "%s"',
        C.CHECKSUM,
        SAB + "postproc.py:830",
    ),
    Rule("sabnzbd", "message", "Duplicate NZB", C.DUPLICATE, SAB + "nzbstuff.py:895"),
    Rule(
        "sabnzbd",
        "message",
        "Aborted, unwanted extension detected",
        C.UNWANTED,
        SAB + "assembler.py:246",
    ),
    Rule(
        "sabnzbd",
        "message",
        "Pre-queue script marked job as failed",
        C.UNWANTED,
        SAB + "nzbstuff.py:834",
    ),
    Rule("sabnzbd", "message", "Post-processing was aborted", C.STOPPED, SAB + "postproc.py:599"),
    Rule("sabnzbd", "message", "Unusable NZB file", C.NOT_FOUND, SAB + "urlgrabber.py:297"),
    # URL fetches: "URL Fetching failed; %s" (urlgrabber.py:300) with the reason inserted.
    Rule(
        "sabnzbd",
        "message",
        "URL Fetching failed; Unauthorized access",
        C.NOT_FOUND,
        SAB + "urlgrabber.py:135",
    ),
    Rule(
        "sabnzbd",
        "message",
        "URL Fetching failed; File not on server",
        C.NOT_FOUND,
        SAB + "urlgrabber.py:138",
    ),
    Rule(
        "sabnzbd",
        "message",
        "URL Fetching failed; Server name does not resolve",
        C.NOT_FOUND,
        SAB + "urlgrabber.py:132",
    ),
    Rule("sabnzbd", "message", "URL Fetching failed; %s", C.NETWORK, SAB + "urlgrabber.py:300"),
    # --- NZBGet: history ``Status`` (NzbInfo::MakeTextStatus) ----------------------------
    Rule("nzbget", "status", "FAILURE/HEALTH", C.INCOMPLETE, NZBGET + "queue/DownloadInfo.cpp:535"),
    Rule("nzbget", "status", "WARNING/HEALTH", C.INCOMPLETE, NZBGET + "queue/DownloadInfo.cpp:591"),
    Rule("nzbget", "status", "FAILURE/PAR", C.REPAIR_FAILED, NZBGET + "queue/DownloadInfo.cpp:563"),
    Rule(
        "nzbget",
        "status",
        "WARNING/DAMAGED",
        C.REPAIR_FAILED,
        NZBGET + "queue/DownloadInfo.cpp:575",
    ),
    Rule(
        "nzbget",
        "status",
        "WARNING/REPAIRABLE",
        C.REPAIR_FAILED,
        NZBGET + "queue/DownloadInfo.cpp:579",
    ),
    Rule(
        "nzbget", "status", "FAILURE/UNPACK", C.UNPACK_FAILED, NZBGET + "queue/DownloadInfo.cpp:567"
    ),
    Rule("nzbget", "status", "WARNING/PASSWORD", C.PASSWORD, NZBGET + "queue/DownloadInfo.cpp:605"),
    Rule("nzbget", "status", "WARNING/SPACE", C.DISK_FULL, NZBGET + "queue/DownloadInfo.cpp:601"),
    Rule("nzbget", "status", "DELETED/DUPE", C.DUPLICATE, NZBGET + "queue/DownloadInfo.cpp:543"),
    Rule("nzbget", "status", "DELETED/COPY", C.DUPLICATE, NZBGET + "queue/DownloadInfo.cpp:555"),
    Rule("nzbget", "status", "DELETED/GOOD", C.DUPLICATE, NZBGET + "queue/DownloadInfo.cpp:551"),
    Rule("nzbget", "status", "FAILURE/BAD", C.UNWANTED, NZBGET + "queue/DownloadInfo.cpp:523"),
    Rule("nzbget", "status", "FAILURE/SCAN", C.UNWANTED, NZBGET + "queue/DownloadInfo.cpp:559"),
    Rule("nzbget", "status", "DELETED/MANUAL", C.STOPPED, NZBGET + "queue/DownloadInfo.cpp:539"),
    Rule("nzbget", "status", "FAILURE/FETCH", C.NETWORK, NZBGET + "queue/DownloadInfo.cpp:644"),
    # NZBGet's sub-statuses (XmlRpc.cpp's name tables), for a status the rows above miss.
    Rule("nzbget", "UnpackStatus", "PASSWORD", C.PASSWORD, NZBGET + "remote/XmlRpc.cpp:1720"),
    Rule("nzbget", "UnpackStatus", "SPACE", C.DISK_FULL, NZBGET + "remote/XmlRpc.cpp:1720"),
    Rule("nzbget", "DeleteStatus", "DUPE", C.DUPLICATE, NZBGET + "remote/XmlRpc.cpp:1723"),
    Rule("nzbget", "DeleteStatus", "HEALTH", C.INCOMPLETE, NZBGET + "remote/XmlRpc.cpp:1723"),
    Rule("nzbget", "DeleteStatus", "MANUAL", C.STOPPED, NZBGET + "remote/XmlRpc.cpp:1723"),
    Rule("nzbget", "ParStatus", "FAILURE", C.REPAIR_FAILED, NZBGET + "remote/XmlRpc.cpp:1719"),
    Rule("nzbget", "UnpackStatus", "FAILURE", C.UNPACK_FAILED, NZBGET + "remote/XmlRpc.cpp:1720"),
    # --- qBittorrent: the WebAPI ``state`` of a torrent ----------------------------------
    Rule("qbittorrent", "status", "error", C.UNKNOWN, QBT + "48"),
    Rule("qbittorrent", "status", "missingFiles", C.INCOMPLETE, QBT + "50"),
    Rule("qbittorrent", "status", "metaDL", C.STALLED, QBT + "66"),
    Rule("qbittorrent", "status", "forcedMetaDL", C.STALLED, QBT + "68"),
    Rule("qbittorrent", "status", "stalledDL", C.STALLED, QBT + "74"),
    Rule("qbittorrent", "status", "pausedDL", C.STOPPED, QBT + "70"),
    Rule(
        "qbittorrent",
        "status",
        "stoppedDL",
        C.STOPPED,
        "qBittorrent release-5.0.0 src/webui/api/serialize/serialize_torrent.cpp:71",
    ),
    # --- aria2: ``errorMessage`` first where it tells more than the code ----------------
    *(
        Rule(
            "aria2",
            "message",
            f"The response status is not successful. status={code}",
            C.NOT_FOUND,
            ARIA2 + "message.h:225",
        )
        for code in (401, 403, 404, 410)
    ),
    Rule("aria2", "message", "Resource not found", C.NOT_FOUND, ARIA2 + "message.h:147"),
    Rule("aria2", "message", "Authorization failed.", C.NOT_FOUND, ARIA2 + "message.h:234"),
    Rule("aria2", "message", "Timeout.", C.NETWORK, ARIA2 + "message.h:215"),
    # aria2 ``errorCode`` (error_code::Value; the line is 46 + the code).
    *(
        Rule("aria2", "errorCode", str(code), category, f"{ARIA2}error_code.h:{46 + code} {name}")
        for code, name, category in _ARIA2_CODES
    ),
)
