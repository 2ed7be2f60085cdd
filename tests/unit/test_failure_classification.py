"""Classification by the clients' own texts: each case quotes a client's source.

The versions are those Debian ships: SABnzbd 3.7.1, NZBGet 21.0, qBittorrent 4.5.2 and
aria2 1.36.0. SABnzbd's texts are gettext msgids with the inserted value filled in as
the program would.
"""

from __future__ import annotations

import pytest

from hauler.cli.main import main
from hauler.downloads.clients.jobs import ClientJob, JobState
from hauler.failures.categories import POLICIES, Category, Strategy
from hauler.failures.classify import classify, classify_job, classify_text
from hauler.failures.table import RULES

C = Category

SABNZBD_MESSAGES = [
    # sabnzbd/nzbstuff.py:1213  T("Aborted, cannot be completed") + " - https://sabnzbd.org/not-complete"
    ("Aborted, cannot be completed - https://sabnzbd.org/not-complete", C.INCOMPLETE),
    # sabnzbd/postproc.py:356-357  T("Download failed - Not on your server(s)") + " - https://…"
    ("Download failed - Not on your server(s) - https://sabnzbd.org/not-complete", C.INCOMPLETE),
    # sabnzbd/newsunpack.py:1365  T("Repair failed, not enough repair blocks (%s short)")
    ("Repair failed, not enough repair blocks (12 short)", C.REPAIR_FAILED),
    # sabnzbd/newsunpack.py:1419  T("Repairing failed, %s") % T("Disk full")
    ("Repairing failed, Disk full", C.DISK_FULL),
    # sabnzbd/newsunpack.py:1161  T("Repairing failed, %s") % msg
    ("Repairing failed, [Errno 5] Input/output error", C.REPAIR_FAILED),
    # sabnzbd/newsunpack.py:816  T("Unpacking failed, archive requires a password")
    ("Unpacking failed, archive requires a password", C.PASSWORD),
    # sabnzbd/assembler.py:228  T("Aborted, encryption detected")
    ("Aborted, encryption detected", C.PASSWORD),
    # sabnzbd/newsunpack.py:784  "%s %s" % (T("Unpacking failed, write error or disk is full?"), …)
    ("Unpacking failed, write error or disk is full? film.mkv", C.DISK_FULL),
    # sabnzbd/newsunpack.py:772  T("Unpacking failed, CRC error")
    ("Unpacking failed, CRC error", C.UNPACK_FAILED),
    # sabnzbd/newsunpack.py:1080  T("Unpacking failed, %s") % T("see logfile")
    ("Unpacking failed, see logfile", C.UNPACK_FAILED),
    # sabnzbd/newsunpack.py:831  T("Corrupt RAR file")
    ("Corrupt RAR file", C.UNPACK_FAILED),
    # sabnzbd/nzbstuff.py:895  T("Duplicate NZB")
    ("Duplicate NZB", C.DUPLICATE),
    # sabnzbd/assembler.py:246  T("Aborted, unwanted extension detected")
    ("Aborted, unwanted extension detected", C.UNWANTED),
    # sabnzbd/urlgrabber.py:300 T("URL Fetching failed; %s") % T("File not on server") (:138)
    ("URL Fetching failed; File not on server", C.NOT_FOUND),
    # sabnzbd/urlgrabber.py:300 with T("Unauthorized access") (:135)
    ("URL Fetching failed; Unauthorized access", C.NOT_FOUND),
    # sabnzbd/urlgrabber.py:300 with T("Server could not complete request") (:221)
    ("URL Fetching failed; Server could not complete request", C.NETWORK),
    # sabnzbd/postproc.py:830  T('Some files failed to verify against "%s"')
    ('Some files failed to verify against "a.sfv"', C.CHECKSUM),
    # sabnzbd/postproc.py:599  T("Post-processing was aborted")
    ("Post-processing was aborted", C.STOPPED),
]


@pytest.mark.parametrize(("message", "category"), SABNZBD_MESSAGES)
def test_sabnzbd_fail_messages(message, category):
    assert classify("sabnzbd", "Failed", message).category is category


@pytest.mark.parametrize(
    "message",
    [
        # a German install: T() returns the translation, which no rule knows
        "Abgebrochen, kann nicht abgeschlossen werden - https://sabnzbd.org/not-complete",
        "Entpacken fehlgeschlagen, Archiv benötigt ein Passwort",
        "",
        b"\xff\xfe not utf-8",
        None,
        12,
    ],
)
def test_a_translated_or_odd_text_degrades_to_unknown(message):
    verdict = classify("sabnzbd", "Failed", message)
    assert verdict.category is C.UNKNOWN and verdict.rule is None


NZBGET_STATUSES = [
    # daemon/queue/DownloadInfo.cpp (NzbInfo::MakeTextStatus), line of each status
    ("FAILURE/HEALTH", C.INCOMPLETE),  # :535 and :585
    ("FAILURE/PAR", C.REPAIR_FAILED),  # :563
    ("WARNING/DAMAGED", C.REPAIR_FAILED),  # :575
    ("FAILURE/UNPACK", C.UNPACK_FAILED),  # :567
    ("WARNING/PASSWORD", C.PASSWORD),  # :605
    ("WARNING/SPACE", C.DISK_FULL),  # :601
    ("DELETED/DUPE", C.DUPLICATE),  # :543
    ("FAILURE/BAD", C.UNWANTED),  # :523
    ("DELETED/MANUAL", C.STOPPED),  # :539
    ("FAILURE/FETCH", C.NETWORK),  # :644 (URL jobs)
    ("FAILURE/INTERNAL_ERROR", C.UNKNOWN),  # :513, deliberately no rule
]


@pytest.mark.parametrize(("status", "category"), NZBGET_STATUSES)
def test_nzbget_history_statuses(status, category):
    assert classify("nzbget", status).category is category


def test_nzbget_sub_statuses_decide_when_the_status_says_little():
    # daemon/remote/XmlRpc.cpp:1720 unpackStatusName {"NONE","NONE","FAILURE","SUCCESS",
    # "SPACE","PASSWORD"}; :1723 deleteStatusName {…, "HEALTH", "DUPE", …}
    assert classify("nzbget", "FAILURE/X", details={"UnpackStatus": "PASSWORD"}).category is (
        C.PASSWORD
    )
    assert classify("nzbget", "", details={"DeleteStatus": "DUPE"}).category is C.DUPLICATE
    assert classify("nzbget", "", details={"ParStatus": "FAILURE"}).category is C.REPAIR_FAILED
    # the status wins over the details (MakeTextStatus already ordered them)
    job = ClientJob(
        "nzbget", "7", JobState.FAILED, "WARNING/SPACE", details={"ParStatus": "FAILURE"}
    )
    assert classify_job(job).category is C.DISK_FULL


@pytest.mark.parametrize(
    ("state", "category"),
    [
        # src/webui/api/serialize/serialize_torrent.cpp (release-4.5.2): line of each state
        ("stalledDL", C.STALLED),  # :74
        ("metaDL", C.STALLED),  # :66
        ("missingFiles", C.INCOMPLETE),  # :50
        ("error", C.UNKNOWN),  # :48 (the WebAPI gives no reason with it)
        ("pausedDL", C.STOPPED),  # :70
        ("stoppedDL", C.STOPPED),  # qBittorrent 5.0.0 :71 (pausedDL's new name)
    ],
)
def test_qbittorrent_states(state, category):
    assert classify("qbittorrent", state).category is category


def test_aria2_error_codes_cover_the_whole_table():
    # src/error_code.h (release-1.36.0) lines 47-78: UNKNOWN_ERROR = 1 … CHECKSUM_ERROR = 32
    codes = {int(r.pattern) for r in RULES if r.client == "aria2" and r.field == "errorCode"}
    assert codes == set(range(1, 33))
    assert classify("aria2", "3").category is C.NOT_FOUND  # RESOURCE_NOT_FOUND
    assert classify("aria2", "9").category is C.DISK_FULL  # NOT_ENOUGH_DISK_SPACE
    assert classify("aria2", "29").category is C.NETWORK  # HTTP_SERVICE_UNAVAILABLE
    assert classify("aria2", "32").category is C.CHECKSUM  # CHECKSUM_ERROR
    assert classify("aria2", "12").category is C.DUPLICATE  # DUPLICATE_INFO_HASH
    # as the watch reports it: status "error/<code>" and details errorCode
    assert classify("aria2", "error/29").category is C.NETWORK
    assert classify("aria2", "error", details={"errorCode": "3"}).category is C.NOT_FOUND


def test_aria2_messages_refine_the_code():
    # src/message.h:225 EX_BAD_STATUS "The response status is not successful. status=%d"
    assert classify(
        "aria2", "22", "The response status is not successful. status=404"
    ).category is (C.NOT_FOUND)
    assert classify(
        "aria2", "22", "The response status is not successful. status=500"
    ).category is (C.NETWORK)
    # src/AbstractDiskWriter.cc:455 EX_FILE_WRITE "Failed to write into the file %s, cause: %s"
    # with strerror(ENOSPC); code 17 FILE_IO_ERROR alone says less.
    text = "Failed to write into the file /d/f.bin, cause: No space left on device"
    assert classify("aria2", "17", text).category is C.UNKNOWN  # the cause is not at the start
    assert classify("aria2", "17", "No space left on device").category is C.DISK_FULL


def test_never_retry_the_same_release_for_password_duplicate_encryption():
    for category in (C.PASSWORD, C.DUPLICATE):
        policy = POLICIES[category]
        assert not policy.retry_same
        assert Strategy.RETRY not in policy.strategies
    assert POLICIES[C.DISK_FULL].strategies[0] is Strategy.PAUSE_CLIENT
    assert set(POLICIES) == set(Category)


def test_every_rule_names_its_source_and_a_known_client():
    for rule in RULES:
        assert rule.client in ("*", "aria2", "nzbget", "qbittorrent", "sabnzbd")
        assert ":" in rule.source and rule.source.split(" ")[0] in (
            "sabnzbd",
            "nzbget",
            "qBittorrent",
            "aria2",
        )


def test_classify_text_tries_status_then_message():
    assert classify_text("nzbget", "WARNING/PASSWORD").category is C.PASSWORD
    assert classify_text("aria2", "Resource not found").category is C.NOT_FOUND
    assert classify_text("aria2", "3").category is C.NOT_FOUND


def test_hauler_classify_prints_category_severity_and_retried(capsys):
    assert main(["classify", "sabnzbd", "Unpacking failed, archive requires a password"]) == 0
    out = capsys.readouterr().out
    assert "category:   password" in out
    assert "severity:   error" in out
    assert "retried:    no" in out
    assert "newsunpack.py:816" in out
    assert main(["classify", "qbittorrent", "stalledDL"]) == 0
    out = capsys.readouterr().out
    assert "category:   stalled" in out and "retried:    yes" in out
