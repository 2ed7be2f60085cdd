"""A torrent nobody seeds, in a real qBittorrent: its own state words (stalledDL, metaDL)
classify as stalled, and recovery's retry (recheck, reannounce, resume) runs against it."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from hauler.downloads.clients.qbittorrent import QbittorrentClient
from hauler.failures.categories import Category
from hauler.failures.classify import classify
from hauler.recovery import records
from hauler.recovery.recover import Report, recover
from hauler.settings import Settings
from tests.integration.recovery_support import wait_for
from tests.integration.torrent_peers import QbittorrentPeer, qbittorrent_peer
from tests.integration.torrents import make_torrent

pytestmark = pytest.mark.integration
__all__ = ["qbittorrent_peer"]


def state_of(peer: QbittorrentPeer, info_hash: str, *states: str) -> str | None:
    for torrent in peer.torrents(hashes=info_hash):
        if torrent["state"] in states:
            return str(torrent["state"])
    return None


def test_an_unseeded_torrent_and_magnet_are_stalled_and_retried_in_qbittorrent(
    qbittorrent_peer: QbittorrentPeer, tmp_path: Path, hauler_env: dict[str, str]
):
    # given a torrent and a magnet that no peer seeds, added to qBittorrent by someone else
    source = tmp_path / "lonely.bin"
    source.write_bytes(os.urandom(300_000))
    torrent = make_torrent(source)
    (tmp_path / "save").mkdir()
    upload = {"torrents": ("lonely.torrent", torrent.metainfo)}
    qbittorrent_peer.api("torrents/add", data={"savepath": str(tmp_path / "save")}, files=upload)
    other = make_torrent(_other(tmp_path))
    qbittorrent_peer.api("torrents/add", data={"urls": other.magnet(), "savepath": str(tmp_path)})
    # when qBittorrent has looked for peers
    stalled = wait_for(
        "stalledDL", lambda: state_of(qbittorrent_peer, torrent.info_hash, "stalledDL"), 30
    )
    meta = wait_for("metaDL", lambda: state_of(qbittorrent_peer, other.info_hash, "metaDL"), 30)
    # then its own state words (serialize_torrent.cpp:74, :66) classify as stalled, retried
    for word in (stalled, meta):
        verdict = classify("qbittorrent", word)
        assert verdict.category is Category.STALLED and verdict.retry_same

    # and recovery of the foreign job (HAULER_RECOVERY_FOREIGN=recover) retries it in place
    settings = Settings.from_env(
        {**hauler_env, "HAULER_RECOVERY_FOREIGN": "recover", "HAULER_RECOVERY_BACKOFF": "0.1"}
    )
    client = QbittorrentClient(
        qbittorrent_peer.url, qbittorrent_peer.username, qbittorrent_peer.password
    )
    scheduled: list[tuple[dict[str, Any], float]] = []
    report = Report("qbittorrent", torrent.info_hash, "stalled", status=stalled)
    first = recover(
        settings, report, lambda kw, delay, _c: scheduled.append((kw, delay)), clients=[client]
    )
    assert first["outcome"] == "scheduled" and first["strategy"] == "retry"
    ((kwargs, delay),) = scheduled
    assert 0.05 <= delay <= 0.1
    second = recover(settings, Report(**kwargs), lambda *a: None, clients=[client])
    assert second["outcome"] == "retrying" and second["job_id"] == torrent.info_hash
    failure = records.get(settings.database_url, kwargs["failure_id"])
    assert (failure.category, failure.state, failure.foreign_job) == ("stalled", "recovering", True)
    assert qbittorrent_peer.torrents(hashes=torrent.info_hash)  # still there, started again
    # and the disk-full actions work on it: pause all, resume all (its free space is -1,
    # unknown, for 30 s after it starts: synccontroller.cpp:56 FREEDISKSPACE_CHECK_TIMEOUT)
    from hauler.recovery.actions import actions_for

    actions = actions_for(client)
    actions.pause()
    wait_for("pausedDL", lambda: state_of(qbittorrent_peer, torrent.info_hash, "pausedDL"), 10)
    actions.resume()
    wait_for(
        "running again",
        lambda: state_of(qbittorrent_peer, torrent.info_hash, "stalledDL", "downloading", "metaDL"),
        10,
    )
    for info_hash in (torrent.info_hash, other.info_hash):
        qbittorrent_peer.api("torrents/delete", data={"hashes": info_hash, "deleteFiles": "true"})


def _other(folder: Path) -> Path:
    path = folder / "nobody.bin"
    path.write_bytes(os.urandom(100_000))
    return path
