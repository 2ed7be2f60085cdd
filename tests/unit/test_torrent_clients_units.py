"""The pure parts of the aria2 and qBittorrent clients, and the tests' bencode, without servers."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from hauler.downloads.clients.aria2 import Aria2Client, Restart, failure, gid_for, result_path
from hauler.downloads.clients.base import Affinity, ClientFailed
from hauler.downloads.clients.jobs import JobState
from hauler.downloads.clients.qbittorrent import (
    QbittorrentClient,
    hex_info_hash,
    state_of,
)
from hauler.downloads.clients.qbittorrent import failure as qbittorrent_failure
from hauler.downloads.links import classify
from hauler.errors import RetryableError
from tests.integration.torrents import PIECE_LENGTH, bencode, make_torrent

HASH = "c12fe1c06bba254a9dc9f519b335aa7c1367a88a"


@pytest.mark.parametrize(
    ("value", "encoded"),
    [
        (0, b"i0e"),
        (-42, b"i-42e"),
        ("spam", b"4:spam"),
        (b"\x00\xff", b"2:\x00\xff"),
        ("", b"0:"),
        ([1, "a", [b"b"]], b"li1e1:al1:bee"),
        ({"b": 1, "a": "x"}, b"d1:a1:x1:bi1ee"),  # keys sorted
        ({"Z": 1, "a": 2}, b"d1:Zi1e1:ai2ee"),  # as raw bytes: upper case first
        ({"\u00e9": 1}, b"d2:\xc3\xa9i1ee"),  # UTF-8 lengths, not characters
    ],
)
def test_bencode(value, encoded):
    assert bencode(value) == encoded


@pytest.mark.parametrize("value", [1.5, None, True, (1, 2)])
def test_bencode_refuses_what_it_has_no_form_for(value):
    with pytest.raises(TypeError):
        bencode(value)


def test_a_single_file_torrent_describes_its_file(tmp_path: Path):
    # given a file of two and a bit pieces
    data = tmp_path / "file.bin"
    data.write_bytes(b"x" * (2 * PIECE_LENGTH + 1))
    # when a torrent is made for it
    torrent = make_torrent(data)
    # then the info hash is the SHA-1 of the bencoded info dictionary, with 3 piece hashes
    info = {
        "name": "file.bin",
        "length": 2 * PIECE_LENGTH + 1,
        "piece length": PIECE_LENGTH,
        "pieces": b"".join(
            hashlib.sha1(part).digest() for part in (b"x" * PIECE_LENGTH, b"x" * PIECE_LENGTH, b"x")
        ),
    }
    assert torrent.info_hash == hashlib.sha1(bencode(info)).hexdigest()
    assert bencode(info) in torrent.metainfo
    assert b"announce" not in torrent.metainfo
    assert torrent.magnet() == f"magnet:?xt=urn:btih:{torrent.info_hash}&dn=file.bin"


@pytest.mark.parametrize(
    ("code", "message", "kind"),
    [
        ("3", "Resource not found", ClientFailed),
        ("22", "The response status is not successful. status=404", ClientFailed),
        ("22", "The response status is not successful. status=403", ClientFailed),
        ("22", "The response status is not successful. status=429", RetryableError),
        ("22", "The response status is not successful. status=500", RetryableError),
        ("24", "Authorization failed.", ClientFailed),
        ("26", "Bad torrent", ClientFailed),
        ("1", "Failed to establish connection, cause: Connection refused", RetryableError),
        ("2", "Timeout.", RetryableError),
        ("6", "Network problem", RetryableError),
        ("9", "Not enough disk space", RetryableError),
        ("19", "Name resolution failed", RetryableError),
        ("29", "status=503", RetryableError),
        ("8", "Resume is not possible", Restart),
        (None, None, RetryableError),
    ],
)
def test_aria2_error_codes_map_to_permanent_or_retryable(code, message, kind):
    error = failure({"status": "error", "errorCode": code, "errorMessage": message})
    assert type(error) is kind
    assert str(code or 1) in str(error)


def test_aria2_gids_come_from_the_tag():
    gid = gid_for("hauler-6f1c")
    assert len(gid) == 16 and int(gid, 16) > 0
    assert gid == gid_for("hauler-6f1c") != gid_for("hauler-6f1d")


def test_aria2_results_are_the_file_or_a_multi_file_torrents_folder():
    single = {
        "dir": "/s/j",
        "files": [{"path": "/s/j/a.iso"}],
        "bittorrent": {"mode": "single", "info": {"name": "a.iso"}},
    }
    multi = {
        "dir": "/s/j",
        "files": [{"path": "/s/j/show/e1.mkv"}],
        "bittorrent": {"mode": "multi", "info": {"name": "show"}},
    }
    direct = {"dir": "/s/j", "files": [{"path": "/s/j/file.bin"}]}
    assert result_path(single) == Path("/s/j/a.iso")
    assert result_path(multi) == Path("/s/j/show")
    assert result_path(direct) == Path("/s/j/file.bin")


@pytest.mark.parametrize(
    ("url", "aria2", "qbittorrent"),
    [
        (f"magnet:?xt=urn:btih:{HASH}", Affinity.SPECIALIST, Affinity.SPECIALIST),
        ("https://example.invalid/a.torrent", Affinity.SPECIALIST, Affinity.SPECIALIST),
        ("/srv/in/a.torrent", Affinity.SPECIALIST, Affinity.SPECIALIST),
        ("https://example.invalid/a.iso", Affinity.COMPATIBLE, Affinity.INCOMPATIBLE),
        ("ftp://example.invalid/a.iso", Affinity.COMPATIBLE, Affinity.INCOMPATIBLE),
        ("https://example.invalid/a.nzb", Affinity.INCOMPATIBLE, Affinity.INCOMPATIBLE),
    ],
)
def test_affinities(url, aria2, qbittorrent):
    link = classify(url)
    assert Aria2Client("http://127.0.0.1:1/jsonrpc", "s").affinity(link) is aria2
    assert QbittorrentClient("http://127.0.0.1:1", "u", "p").affinity(link) is qbittorrent


@pytest.mark.parametrize(
    ("state", "phase"),
    [
        ("metaDL", JobState.STALLED),
        ("forcedMetaDL", JobState.STALLED),
        ("downloading", JobState.DOWNLOADING),
        ("stalledDL", JobState.STALLED),
        ("queuedDL", JobState.QUEUED),
        ("pausedDL", JobState.PAUSED),
        ("checkingDL", JobState.QUEUED),
        ("checkingResumeData", JobState.QUEUED),
        ("moving", JobState.POSTPROCESSING),
        ("something-new", JobState.DOWNLOADING),
        ("uploading", JobState.COMPLETED),
        ("stalledUP", JobState.COMPLETED),
        ("pausedUP", JobState.COMPLETED),
        ("stoppedUP", JobState.COMPLETED),
        ("queuedUP", JobState.COMPLETED),
        ("checkingUP", JobState.COMPLETED),
        ("forcedUP", JobState.COMPLETED),
        ("error", JobState.FAILED),
        ("missingFiles", JobState.FAILED),
    ],
)
def test_qbittorrent_states(state, phase):
    # TorrentState values of the Web API (qBittorrent src/webui/api/serialize/serialize_torrent.cpp)
    assert state_of(state) is phase


def test_qbittorrent_missing_files_are_permanent_and_file_errors_retry():
    assert type(qbittorrent_failure({"state": "missingFiles", "name": "x"})) is ClientFailed
    assert type(qbittorrent_failure({"state": "error", "name": "x"})) is RetryableError


@pytest.mark.parametrize(
    ("info_hash", "expected"),
    [
        (HASH.upper(), HASH),
        ("ZOCMZQIPFFW7OLLMIC5HUB6BPCSDEOQU", "cb84ccc10f296df72d6c40ba7a07c178a4323a14"),
        ("1220" + "ab" * 32, None),  # a v2 (btmh) hash: qBittorrent's hashes= takes v1
        (None, None),
    ],
)
def test_magnet_hashes_in_hex(info_hash, expected):
    assert hex_info_hash(info_hash) == expected
