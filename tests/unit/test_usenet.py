"""The pure parts of the Usenet clients: yEnc, NZB building and parsing, status mapping."""

from __future__ import annotations

import os
import zlib
from pathlib import Path

import pytest

from hauler.downloads.clients.base import ClientFailed, Job
from hauler.downloads.clients.collect import SharedFolder, collect, owned
from hauler.downloads.clients.jobs import JobState
from hauler.downloads.clients.nzbget import completed, history_job, reason, size_of
from hauler.downloads.clients.sabnzbd import (
    data_bytes,
    job_folder,
    megabytes,
    shortfall,
)
from hauler.downloads.clients.sabnzbd import (
    history_job as sab_history_job,
)
from hauler.downloads.clients.sabnzbd import (
    queued_job as sab_queued_job,
)
from hauler.downloads.links import classify
from hauler.downloads.nzb import BadNzb, Nzb, NzbFile, Segment, least_size, parse
from hauler.progress import Meter, Progress
from tests.integration.nntp_server import NntpServer
from tests.integration.nzb_builder import post, render, split
from tests.integration.yenc import YencError, decode_part, encode_part

EVERY_BYTE = bytes(range(256)) * 64  # every critical character, at every line position
NZB_LINK = classify("https://indexer.invalid/x.nzb")
WAITING = (
    "Grabbing",
    "Queued",
    "Paused",
    "Propagating",
    "Checking",
    "Downloading",
    "Fetching",
    "QuickCheck",
    "Verifying",
    "Repairing",
    "Extracting",
    "Moving",
    "Running",
)


def reassemble(texts: list[bytes]) -> bytes:
    parts = [decode_part(text) for text in texts]
    data = bytearray(parts[0].file_size)
    for part in parts:
        data[part.begin : part.begin + len(part.data)] = part.data
    return bytes(data)


# yEnc


@pytest.mark.parametrize(
    "data",
    [EVERY_BYTE, b"." * 300, b"\x04" * 10 + b"\xf6" * 300, os.urandom(100_000), b"x"],
    ids=["every-byte", "dots", "edge-spaces", "random", "one-byte"],
)
def test_yenc_round_trips_any_bytes(data: bytes) -> None:
    text = encode_part(
        data,
        name="f.bin",
        number=1,
        total=1,
        begin=0,
        file_size=len(data),
        file_crc=zlib.crc32(data),
    )
    assert decode_part(text).data == data


def test_yenc_lines_never_hold_a_raw_critical_character_or_start_with_a_dot() -> None:
    text = encode_part(
        EVERY_BYTE, name="f.bin", number=1, total=1, begin=0, file_size=len(EVERY_BYTE), file_crc=0
    )
    for line in text.split(b"\r\n")[2:-2]:
        assert b"\x00" not in line and b"\r" not in line and b"\n" not in line
        assert not line.startswith((b".", b" ", b"\t")) and not line.endswith((b" ", b"\t"))


def test_yenc_parts_carry_their_range_and_both_crcs() -> None:
    # given a file split in three articles
    body = os.urandom(500_000)
    texts = [text for _, text in split(body, "three.bin", segment=200_000)]
    # then each part says where it goes, and together they are the file
    assert [decode_part(t).begin for t in texts] == [0, 200_000, 400_000]
    assert f"crc32={zlib.crc32(body):08x}".encode() in texts[-1]
    assert reassemble(texts) == body


def test_yenc_refuses_a_part_whose_crc_does_not_match() -> None:
    text = encode_part(
        b"hello world" * 50, name="h", number=1, total=1, begin=0, file_size=550, file_crc=0
    )
    data_at = text.index(b"\r\n", text.index(b"=ypart")) + 10
    damaged = text[:data_at] + bytes([text[data_at] ^ 1]) + text[data_at + 1 :]
    with pytest.raises(YencError):
        decode_part(damaged)


def test_a_corrupted_article_on_the_news_server_no_longer_decodes() -> None:
    server = NntpServer()
    posted = post(server, os.urandom(50_000), "c.bin")
    server.corrupt(posted.message_ids[0])
    with pytest.raises(YencError):
        decode_part(server.articles[posted.message_ids[0]].body)


# NZB


def test_an_nzb_round_trips_through_its_xml() -> None:
    posted = post(NntpServer(), os.urandom(450_000), "movie.mkv", segment=200_000)
    nzb = parse(posted.xml)
    assert nzb == posted.nzb
    assert [f.name for f in nzb.files] == ["movie.mkv"]
    assert [s.number for s in nzb.files[0].segments] == [1, 2, 3]
    assert nzb.meta == (("title", "movie.mkv"),)


def test_the_posted_size_bounds_the_decoded_size_from_below_and_close() -> None:
    body = os.urandom(1_000_000)
    nzb = post(NntpServer(), body, "b.bin").nzb
    assert 0.9 * len(body) < least_size(nzb) <= len(body) < nzb.bytes


def test_an_nzb_without_namespace_is_read_too() -> None:
    xml = (
        b'<nzb><file subject="&quot;a.bin&quot; yEnc (1/1)" poster="p" date="1">'
        b"<groups><group>alt.test</group></groups><segments>"
        b'<segment bytes="10" number="1">&lt;id@host&gt;</segment></segments></file></nzb>'
    )
    nzb = parse(xml)
    assert nzb.files[0].name == "a.bin"
    assert nzb.files[0].segments[0].message_id == "id@host"


@pytest.mark.parametrize(
    "content",
    [
        b"<html><body>please log in</body></html>",
        b"not xml at all",
        b'<?xml version="1.0"?><!DOCTYPE nzb [<!ENTITY a "aaaa">]><nzb>&a;</nzb>',
        render(Nzb(files=())),
    ],
    ids=["html", "garbage", "entities", "empty"],
)
def test_what_is_not_a_usable_nzb_is_refused(content: bytes) -> None:
    with pytest.raises(BadNzb):
        parse(content)


# status mapping


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("SUCCESS/ALL", True),
        ("SUCCESS/HEALTH", True),
        ("SUCCESS/GOOD", True),
        ("WARNING/SCRIPT", True),
        ("WARNING/DAMAGED", False),
        ("WARNING/REPAIRABLE", False),
        ("WARNING/HEALTH", False),
        ("WARNING/PASSWORD", False),
        ("FAILURE/HEALTH", False),
        ("FAILURE/PAR", False),
        ("FAILURE/UNPACK", False),
        ("DELETED/MANUAL", False),
        ("DELETED/DUPE", False),
    ],
)
def test_nzbget_history_statuses(status: str, expected: bool) -> None:
    # Status values of NZBGet's history (daemon/remote/XmlRpc.cpp HistoryXmlCommand)
    assert completed(status) is expected
    entry = {"NZBID": 7, "Status": status, "NZBName": "hauler-x", "FileSizeLo": 10}
    job = history_job(entry)
    if expected:
        assert job.state is JobState.COMPLETED and job.message is None
    elif status == "DELETED/MANUAL":
        assert job.state is JobState.DELETED
    else:
        assert job.state is JobState.FAILED and job.message and job.message.startswith(status)
    assert (job.job_id, job.tag, job.details["Status"]) == ("7", "hauler-x", status)


def test_nzbget_reason_names_the_status_the_figures_and_the_warnings() -> None:
    entry = {
        "Status": "FAILURE/PAR",
        "FailedArticles": 4,
        "TotalArticles": 40,
        "Health": 900,
        "CriticalHealth": 950,
        "ParStatus": "FAILURE",
        "UnpackStatus": "NONE",
    }
    assert reason(entry) == (
        "FAILURE/PAR; 4 of 40 articles failed; health 90.0% (critical 95.0%); ParStatus=FAILURE"
    )
    assert reason(entry, ["Repair failed"]).endswith(": Repair failed")


def test_nzbget_sizes_join_their_high_and_low_words() -> None:
    assert size_of({"FileSizeLo": 5, "FileSizeHi": 1}, "FileSize") == (1 << 32) + 5
    assert size_of({"FileSizeLo": -1, "FileSizeHi": 0}, "FileSize") == 0xFFFFFFFF


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("Downloading", JobState.DOWNLOADING),
        ("Paused", JobState.PAUSED),
        *[(status, JobState.QUEUED) for status in ("Queued", "Grabbing", "Propagating")],
    ],
)
def test_sabnzbd_queue_statuses(status: str, expected: JobState) -> None:
    # queue statuses of SABnzbd (sabnzbd/constants.py class Status)
    slot = {"nzo_id": "SABnzbd_nzo_1", "status": status, "filename": "hauler-t", "mb": "2.0"}
    job = sab_queued_job({**slot, "mbleft": "0.5"})
    assert (job.state, job.tag, job.bytes_done, job.bytes_total) == (
        expected,
        "hauler-t",
        1_572_864,
        2_097_152,
    )


def test_sabnzbd_megabytes_are_mebibytes() -> None:
    assert megabytes("1.50") == 1_572_864
    assert megabytes("") == 0 and megabytes(None) == 0


def _posted(*files: tuple[str, int]) -> Nzb:
    return Nzb(
        tuple(
            NzbFile(f'"{name}" yEnc (1/1)', "p", 0, ("g",), (Segment(1, size, f"{name}@x"),))
            for name, size in files
        )
    )


def test_sabnzbd_counts_only_the_data_files_not_par2() -> None:
    nzb = _posted(("a.bin", 1000), ("a.par2", 50), ("a.vol00+01.PAR2", 300))
    assert data_bytes(nzb) == 1000


@pytest.mark.parametrize(
    ("slot", "expected"),
    [
        ({"status": "Completed", "storage": "/c/t/a.bin", "bytes": 1000}, JobState.COMPLETED),
        ({"status": "Completed", "storage": "", "bytes": 1000}, JobState.POSTPROCESSING),
        (
            {"status": "Completed", "storage": "/c/t", "bytes": 1000, "loaded": True},
            JobState.POSTPROCESSING,
        ),
        ({"status": "Failed", "storage": "/i/t", "fail_message": "Aborted"}, JobState.FAILED),
        ({"status": "Queued", "storage": "", "loaded": True}, JobState.POSTPROCESSING),
        *[
            ({"status": status}, JobState.POSTPROCESSING)
            for status in WAITING
            if status != "Failed"
        ],
    ],
)
def test_sabnzbd_history_slot_states(slot: dict[str, object], expected: JobState) -> None:
    job = sab_history_job({"nzo_id": "SABnzbd_nzo_2", "name": "hauler-t", **slot})
    assert job.state is expected
    if expected is JobState.FAILED:
        assert job.message == "Aborted"


def test_sabnzbd_incomplete_completed_job_says_how_many_bytes_came() -> None:
    slot = {"nzo_id": "n", "status": "Completed", "storage": "/c/t/a.bin", "bytes": 600}
    wanted = data_bytes(_posted(("a.bin", 1000), ("a.par2", 50)))
    assert shortfall(sab_history_job(slot), wanted) == (
        "incomplete: got 600 of the 1000 bytes of articles"
    )
    assert shortfall(sab_history_job({**slot, "bytes": 1000}), wanted) is None


def test_sabnzbd_job_folder_is_found_above_a_single_files_storage() -> None:
    assert job_folder(Path("/c/hauler-t/a.bin"), "hauler-t") == Path("/c/hauler-t")
    assert job_folder(Path("/c/hauler-t.1/sub/a.bin"), "hauler-t") == Path("/c/hauler-t.1")
    assert job_folder(Path("/c/hauler-t"), "hauler-t") == Path("/c/hauler-t")
    assert job_folder(Path("/c/shared"), "hauler-t") == Path("/c/shared")


def test_the_meter_reports_the_rate_since_the_first_poll() -> None:
    now = [100.0]
    seen: list[Progress] = []
    meter = Meter(None, seen.append, start=None, clock=lambda: now[0])
    meter.at(1000, 10_000)
    assert seen[-1].rate == 0.0
    now[0] = 102.0
    meter.at(5000, 10_000)
    assert seen[-1].rate == 2000.0
    meter.finish(9000)
    assert seen[-1].done == 9000


# collecting results


def test_one_file_comes_out_as_the_file_named_as_wanted(tmp_path: Path) -> None:
    source = tmp_path / "peer" / "hauler-t1"
    source.mkdir(parents=True)
    (source / "data.bin").write_bytes(b"abc")
    (tmp_path / "work").mkdir()
    job = Job(NZB_LINK, tmp_path / "work", tag="hauler-t1", filename="wanted.bin")
    finished = collect(source, job, "peer")
    assert finished.path == tmp_path / "work" / "wanted.bin" and finished.bytes == 3
    assert not source.exists()


def test_a_folder_not_named_after_the_job_is_not_taken(tmp_path: Path) -> None:
    (tmp_path / "movies").mkdir()
    (tmp_path / "movies" / "someone-elses.mkv").write_bytes(b"x")
    with pytest.raises(SharedFolder):
        collect(tmp_path / "movies", Job(NZB_LINK, tmp_path, tag="hauler-t2"), "peer")


def test_a_redelivery_finds_the_already_moved_result(tmp_path: Path) -> None:
    (tmp_path / "work").mkdir()
    (tmp_path / "work" / "done.bin").write_bytes(b"12345")
    job = Job(NZB_LINK, tmp_path / "work", tag="hauler-t3")
    assert collect(tmp_path / "gone" / "hauler-t3", job, "peer").bytes == 5
    (tmp_path / "empty").mkdir()
    with pytest.raises(ClientFailed):
        collect(tmp_path / "gone", Job(NZB_LINK, tmp_path / "empty", tag="hauler-t4"), "peer")


@pytest.mark.parametrize(
    ("name", "mine"),
    [
        ("hauler-7", True),
        ("hauler-7.#12", True),
        ("hauler-7.1", True),
        ("hauler-7_duplicate2", True),
        ("hauler-77", False),
        ("hauler-7-b", False),
    ],
)
def test_folders_are_owned_by_their_tag_only(name: str, mine: bool) -> None:
    assert owned(Path("/x") / name, "hauler-7") is mine
