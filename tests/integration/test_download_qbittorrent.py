"""The qBittorrent client against a real qbittorrent-nox, fed by a real aria2 seeding."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from hauler.downloads import fetch as service
from hauler.downloads.clients.base import ClientFailed, DownloadClient, Job, TooLarge
from hauler.downloads.clients.qbittorrent import QbittorrentClient
from hauler.downloads.clients.qbittorrent_api import LoginRejected
from hauler.downloads.links import Link, classify
from hauler.downloads.safety import Forbidden
from hauler.progress import Progress
from hauler.settings import Settings
from tests.integration.download_contract import PeerClientContract
from tests.integration.http_server import LoopbackServer, Resource, free_port
from tests.integration.torrent_peers import (
    Aria2Peer,
    Introducer,
    QbittorrentFetchesFrom,
    QbittorrentPeer,
    aria2_peer,
    qbittorrent_peer,
)
from tests.integration.torrents import Torrent, make_torrent

pytestmark = pytest.mark.integration
__all__ = ["aria2_peer", "qbittorrent_peer"]  # the fixtures imported above, used by name

BODY = os.urandom(3 * 1024 * 1024 + 7)


class WorkerLost(BaseException):
    """Stands for a worker dying mid-download: not an Exception, so nothing is cleaned up."""


@pytest.fixture(scope="module")
def server() -> Iterator[LoopbackServer]:
    server = LoopbackServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def introducer(aria2_peer: Aria2Peer, qbittorrent_peer: QbittorrentPeer) -> Iterator[Introducer]:
    """qBittorrent, downloading, is told where aria2 seeds every torrent offered."""
    with QbittorrentFetchesFrom(qbittorrent_peer, aria2_peer.listen_port) as introducer:
        yield introducer


@pytest.fixture
def seeded(
    aria2_peer: Aria2Peer, introducer: Introducer, tmp_path: Path
) -> Callable[[bytes, str], Torrent]:
    """``seeded(body, name)``: a torrent of ``body`` that aria2 seeds and qBittorrent can find."""

    def seeded(body: bytes, name: str) -> Torrent:
        data = tmp_path / "seed" / uuid.uuid4().hex / name
        data.parent.mkdir(parents=True)
        data.write_bytes(body)
        torrent = make_torrent(data)
        aria2_peer.seed(data, torrent)
        introducer.offer(data, torrent)
        return torrent

    return seeded


def qbittorrent_client(peer: QbittorrentPeer, password: str | None = None) -> QbittorrentClient:
    return QbittorrentClient(
        peer.url, peer.username, password or peer.password, poll_interval=0.1, add_timeout=3
    )


class TestQbittorrentContract(PeerClientContract):
    """Magnets whose only peer is a real aria2 seeding on loopback."""

    @pytest.fixture
    def client(self, qbittorrent_peer: QbittorrentPeer) -> DownloadClient:
        return qbittorrent_client(qbittorrent_peer)

    @pytest.fixture
    def offer(self, seeded: Callable[[bytes, str], Torrent]) -> Callable[[bytes, str], Link]:
        return lambda body, name: classify(seeded(body, name).magnet())

    @pytest.fixture
    def bad_link(self, server: LoopbackServer) -> Link:
        return classify(server.url("/files/missing.torrent"))

    @pytest.fixture
    def down_client(self) -> DownloadClient:
        return QbittorrentClient(f"http://127.0.0.1:{free_port()}", "u", "p", 0.1, timeout=2)

    @pytest.fixture
    def down_link(self) -> Link:
        return classify("magnet:?xt=urn:btih:" + "ef" * 20)


def test_qbittorrent_uploads_a_local_torrent_file_and_names_the_result(
    qbittorrent_peer, seeded, tmp_path
):
    # given a .torrent file on disk whose data only aria2 has
    torrent = seeded(BODY, "original.bin")
    local = tmp_path / "original.torrent"
    local.write_bytes(torrent.metainfo)
    workdir = tmp_path / "work"
    workdir.mkdir()
    # when qBittorrent downloads it (uploaded as multipart), asked for another name
    job = Job(classify(str(local)), workdir, tag="hauler-qbt-local", filename="wanted.bin")
    finished = qbittorrent_client(qbittorrent_peer).download(job, lambda _: None)
    # then the bytes are there under that name, and qBittorrent forgot torrent and tag
    assert finished.path == workdir / "wanted.bin"
    assert finished.path.read_bytes() == BODY
    assert qbittorrent_peer.torrents(hashes=torrent.info_hash) == []
    assert "hauler-qbt-local" not in qbittorrent_peer.api("torrents/tags").json()


def test_qbittorrent_fetches_a_torrent_url(qbittorrent_peer, seeded, server, tmp_path):
    # given a .torrent served over HTTP
    torrent = seeded(b"served " * 1000, "served.bin")
    server.resources["/t/served.torrent"] = Resource(torrent.metainfo)
    # when qBittorrent is given its URL
    link = classify(server.url("/t/served.torrent"))
    job = Job(link, tmp_path, tag="hauler-qbt-url")
    finished = qbittorrent_client(qbittorrent_peer).download(job, lambda _: None)
    # then it fetched the torrent itself and downloaded the data
    assert finished.path.read_bytes() == b"served " * 1000


def test_qbittorrent_refuses_a_torrent_larger_than_max_bytes_and_deletes_it(
    qbittorrent_peer, seeded, tmp_path
):
    # given a 3 MiB torrent and a limit of 1 KiB
    torrent = seeded(BODY, "large.bin")
    job = Job(classify(torrent.magnet()), tmp_path, tag="hauler-qbt-large", max_bytes=1024)
    # when qBittorrent learns the size from the metadata, then it gives up for good
    with pytest.raises(TooLarge):
        qbittorrent_client(qbittorrent_peer).download(job, lambda _: None)
    # and neither the torrent nor any of its data is left
    assert qbittorrent_peer.torrents(tag="hauler-qbt-large") == []
    assert list(tmp_path.iterdir()) == []


def test_qbittorrent_refuses_a_file_that_is_not_a_torrent(qbittorrent_peer, tmp_path):
    # given a local .torrent that is not a torrent
    garbage = tmp_path / "garbage.torrent"
    garbage.write_bytes(b"this is not bencoded")
    job = Job(classify(str(garbage)), tmp_path, tag="hauler-qbt-garbage")
    # when it is uploaded, then qBittorrent's refusal is a permanent error
    with pytest.raises(ClientFailed, match="not a valid torrent"):
        qbittorrent_client(qbittorrent_peer).download(job, lambda _: None)


def test_qbittorrent_reattaches_to_the_torrent_of_a_redelivered_task(
    qbittorrent_peer, seeded, tmp_path
):
    # given a worker that died right after adding the torrent, leaving it in qBittorrent
    torrent = seeded(BODY, "redelivered.bin")
    job = Job(classify(torrent.magnet()), tmp_path, tag="hauler-qbt-redelivered")

    def die(progress: Progress) -> None:
        raise WorkerLost

    with pytest.raises(WorkerLost):
        qbittorrent_client(qbittorrent_peer).download(job, die)
    assert len(qbittorrent_peer.torrents(tag=job.tag)) == 1
    # when the task is delivered again to a new worker (a new client, the same tag)
    finished = qbittorrent_client(qbittorrent_peer).download(job, lambda _: None)
    # then it followed that torrent to the end, and nothing of it is left in qBittorrent
    assert finished.path.read_bytes() == BODY
    assert qbittorrent_peer.torrents(hashes=torrent.info_hash) == []


def test_qbittorrent_logs_in_again_when_its_session_ends(qbittorrent_peer):
    # given a client whose session qBittorrent has ended (a restart or a timeout)
    client = qbittorrent_client(qbittorrent_peer)
    assert client.healthy() is True
    client.api.request("POST", "auth/logout")
    # when it is used again, then it logs in once more and carries on
    assert client.healthy() is True


def test_qbittorrent_with_wrong_credentials_names_the_settings(qbittorrent_peer, tmp_path):
    # given a client configured with the wrong password
    client = qbittorrent_client(qbittorrent_peer, password="not-the-password")
    # when it is asked for its health, then it is unhealthy
    assert client.healthy() is False
    # and when it is given a job, then the error is permanent and names both settings
    link = classify("magnet:?xt=urn:btih:" + "12" * 20)
    with pytest.raises(LoginRejected, match="HAULER_DOWNLOADS_QBITTORRENT_PASSWORD"):
        client.download(Job(link, tmp_path, tag="hauler-qbt-login"), lambda _: None)


def test_a_torrent_url_redirecting_to_a_forbidden_address_is_refused_before_qbittorrent_sees_it(
    qbittorrent_peer: QbittorrentPeer,
    server: LoopbackServer,
    other_loopback: LoopbackServer,
    hauler_env: dict[str, str],
) -> None:
    # given 127.0.0.1 allowed, 127.0.0.2 not, and a .torrent URL on the first leading to the second
    other_loopback.resources["/internal.torrent"] = Resource(b"d4:infod4:name1:xee")
    server.resources["/t/go.torrent"] = Resource(
        b"", redirect_to=other_loopback.url("/internal.torrent")
    )
    settings = Settings.from_env({**hauler_env, "HAULER_DOWNLOADS_ALLOW_NETWORKS": "127.0.0.1/32"})
    request = service.validate(
        settings, server.url("/t/go.torrent"), None, None, "qbittorrent", None, None
    )
    client = qbittorrent_client(qbittorrent_peer)
    # when it is to be downloaded through qBittorrent (which follows redirects itself)
    with pytest.raises(Forbidden, match=r"127\.0\.0\.2"):
        service.fetch(
            settings, request, task_id="ssrf-qb", progress=lambda _: None, clients=[client]
        )
    # then qBittorrent was never given it, and the forbidden host saw nothing
    assert other_loopback.resources["/internal.torrent"].hits == 0
    assert client.api.get("torrents/info", tag="hauler-ssrf-qb") == []
