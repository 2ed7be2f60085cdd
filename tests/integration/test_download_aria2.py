"""The aria2 client against a real aria2c: the contract over HTTP and over torrents, and more."""

from __future__ import annotations

import hashlib
import os
import stat
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from hauler.downloads import fetch as service
from hauler.downloads.clients.aria2 import Aria2Client, gid_for
from hauler.downloads.clients.aria2_rpc import WrongSecret
from hauler.downloads.clients.base import DownloadClient, Job, TooLarge
from hauler.downloads.links import Link, classify
from hauler.downloads.safety import Forbidden
from hauler.errors import RetryableError
from hauler.progress import Progress
from hauler.settings import Settings
from tests.integration.download_contract import PeerClientContract
from tests.integration.http_server import LoopbackServer, Resource, free_port
from tests.integration.torrent_peers import (
    Aria2Peer,
    Introducer,
    QbittorrentPeer,
    QbittorrentSeedsTo,
    aria2_peer,
    qbittorrent_peer,
)
from tests.integration.torrents import make_torrent

pytestmark = pytest.mark.integration
__all__ = ["aria2_peer", "qbittorrent_peer"]  # the fixtures imported above, used by name

BODY = os.urandom(3 * 1024 * 1024 + 5)


class WorkerLost(BaseException):
    """Stands for a worker dying mid-download: not an Exception, so nothing is cleaned up."""


@pytest.fixture(scope="module")
def server() -> Iterator[LoopbackServer]:
    server = LoopbackServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def introducer(aria2_peer: Aria2Peer, qbittorrent_peer: QbittorrentPeer) -> Iterator[Introducer]:
    """qBittorrent, seeding, connects to aria2 for every transfer of a torrent offered."""
    with QbittorrentSeedsTo(qbittorrent_peer, aria2_peer) as introducer:
        yield introducer


def aria2_client(peer: Aria2Peer) -> Aria2Client:
    return Aria2Client(peer.url, peer.secret, poll_interval=0.1, settle_timeout=5)


def nothing_listens() -> Aria2Client:
    return Aria2Client(f"http://127.0.0.1:{free_port()}/jsonrpc", "secret", 0.1, timeout=2)


def serve(server: LoopbackServer, body: bytes, **misbehaviour: object) -> Link:
    path = f"/files/{uuid.uuid4().hex}/file.bin"
    server.resources[path] = Resource(body, **misbehaviour)  # type: ignore[arg-type]
    return classify(server.url(path))


class TestAria2HttpContract(PeerClientContract):
    """Direct links from a loopback HTTP server, over several connections each."""

    @pytest.fixture
    def client(self, aria2_peer: Aria2Peer) -> DownloadClient:
        return aria2_client(aria2_peer)

    @pytest.fixture
    def offer(self, server: LoopbackServer) -> Callable[[bytes, str], Link]:
        def offer(body: bytes, name: str) -> Link:
            server.resources[f"/files/{name}"] = Resource(body, chunk_delay=0.001)
            return classify(server.url(f"/files/{name}"))

        return offer

    @pytest.fixture
    def bad_link(self, server: LoopbackServer) -> Link:
        return classify(server.url("/files/missing.bin"))

    @pytest.fixture
    def down_client(self) -> DownloadClient:
        return nothing_listens()

    @pytest.fixture
    def down_link(self) -> Link:
        return classify(f"http://127.0.0.1:{free_port()}/nothing-listens.bin")


class TestAria2TorrentContract(PeerClientContract):
    """Magnets whose only peer is a real qBittorrent seeding on loopback."""

    @pytest.fixture
    def client(self, aria2_peer: Aria2Peer) -> DownloadClient:
        return aria2_client(aria2_peer)

    @pytest.fixture
    def offer(
        self, qbittorrent_peer: QbittorrentPeer, introducer: Introducer, tmp_path: Path
    ) -> Callable[[bytes, str], Link]:
        def offer(body: bytes, name: str) -> Link:
            data = tmp_path / "seed" / uuid.uuid4().hex / name
            data.parent.mkdir(parents=True)
            data.write_bytes(body)
            torrent = make_torrent(data)
            qbittorrent_peer.seed(data, torrent)
            introducer.offer(data, torrent)
            return classify(torrent.magnet())

        return offer

    @pytest.fixture
    def bad_link(self, server: LoopbackServer) -> Link:
        return classify(server.url("/files/missing.torrent"))

    @pytest.fixture
    def down_client(self) -> DownloadClient:
        return nothing_listens()

    @pytest.fixture
    def down_link(self) -> Link:
        return classify("magnet:?xt=urn:btih:" + "cd" * 20)


def test_aria2_downloads_a_local_torrent_file_under_the_wanted_name(
    aria2_peer: Aria2Peer, qbittorrent_peer: QbittorrentPeer, introducer: Introducer, tmp_path
):
    # given a .torrent file on disk whose data only qBittorrent has
    data = tmp_path / "seed" / "original.bin"
    data.parent.mkdir()
    data.write_bytes(BODY)
    torrent = make_torrent(data)
    (tmp_path / "original.torrent").write_bytes(torrent.metainfo)
    qbittorrent_peer.seed(data, torrent)
    introducer.offer(data, torrent)
    workdir = tmp_path / "work"
    workdir.mkdir()
    # when aria2 downloads it, asked for another name
    link = classify(str(tmp_path / "original.torrent"))
    job = Job(link, workdir, tag="hauler-aria2-local", filename="wanted.bin")
    finished = aria2_client(aria2_peer).download(job, lambda _: None)
    # then the bytes are there under that name, and aria2 keeps nothing of the job
    assert finished.path == workdir / "wanted.bin"
    assert finished.path.read_bytes() == BODY
    assert aria2_peer.call("tellActive") == []


def test_aria2_follows_a_torrent_url_to_the_download_it_describes(
    aria2_peer, qbittorrent_peer, introducer, server, tmp_path
):
    # given a .torrent served over HTTP whose data only qBittorrent has
    data = tmp_path / "seed" / "served.bin"
    data.parent.mkdir()
    data.write_bytes(b"served " * 1000)
    torrent = make_torrent(data)
    qbittorrent_peer.seed(data, torrent)
    introducer.offer(data, torrent)
    server.resources["/t/served.torrent"] = Resource(torrent.metainfo)
    workdir = tmp_path / "work"
    workdir.mkdir()
    # when aria2 is given its URL
    job = Job(classify(server.url("/t/served.torrent")), workdir, tag="hauler-aria2-url")
    finished = aria2_client(aria2_peer).download(job, lambda _: None)
    # then it fetched the .torrent (kept in memory, not in the work directory) and then
    # the data it describes
    assert finished.path == workdir / "served.bin"
    assert finished.path.read_bytes() == b"served " * 1000
    assert sorted(p.name for p in workdir.iterdir()) == ["served.bin"]


def test_aria2_splits_a_direct_download_over_several_connections(aria2_peer, server, tmp_path):
    # given a 3 MiB file on a server that honours ranges
    link = serve(server, BODY, chunk_delay=0.001)
    server.range_requests.clear()
    # when aria2 downloads it, asked for a name of its own
    job = Job(link, tmp_path, tag="hauler-aria2-split", filename="named.bin")
    finished = aria2_client(aria2_peer).download(job, lambda _: None)
    # then several ranges were fetched and the whole file landed under that name
    assert len(server.range_requests) > 1
    assert finished.path == tmp_path / "named.bin"
    assert hashlib.sha256(finished.path.read_bytes()).digest() == hashlib.sha256(BODY).digest()


def test_aria2_maps_a_server_error_to_retryable_and_removes_the_transfer(
    aria2_peer, server, tmp_path
):
    # given a server that answers 500 for now
    link = serve(server, BODY, fail_first=1000)
    client = aria2_client(aria2_peer)
    # when aria2 tries it, then the task may retry, and aria2 keeps no transfer for the tag
    with pytest.raises(RetryableError, match="status=500"):
        client.download(Job(link, tmp_path, tag="hauler-aria2-500"), lambda _: None)
    assert client.rpc.status(gid_for("hauler-aria2-500")) is None


def test_aria2_refuses_a_file_larger_than_max_bytes_and_deletes_it(aria2_peer, server, tmp_path):
    # given a 3 MiB file and a limit of 1 MiB
    link = serve(server, BODY, chunk_delay=0.005)
    job = Job(link, tmp_path, tag="hauler-aria2-large", max_bytes=1024 * 1024)
    client = aria2_client(aria2_peer)
    # when aria2 learns the size, then it gives up for good and keeps nothing
    with pytest.raises(TooLarge):
        client.download(job, lambda _: None)
    assert list(tmp_path.iterdir()) == []
    assert client.rpc.status(gid_for("hauler-aria2-large")) is None


def test_aria2_reattaches_to_the_transfer_of_a_redelivered_task(aria2_peer, server, tmp_path):
    # given a slow download whose worker died half-way, leaving the transfer in aria2
    link = serve(server, BODY, chunk_delay=0.05)
    job = Job(link, tmp_path, tag="hauler-aria2-redelivered")

    def die_once_started(progress: Progress) -> None:
        if progress.done > 0:
            raise WorkerLost

    with pytest.raises(WorkerLost):
        aria2_client(aria2_peer).download(job, die_once_started)
    gid = gid_for(job.tag)
    assert aria2_peer.call("tellStatus", gid, ["status"])["status"] == "active"
    # when the task is delivered again to a new worker (a new client, the same tag)
    seen: list[Progress] = []
    finished = aria2_client(aria2_peer).download(job, seen.append)
    # then it followed the same transfer (adding the GID again would have failed) to the end
    assert finished.path.read_bytes() == BODY
    assert seen[0].done > 0
    stats = aria2_peer.call("getGlobalStat")
    assert (stats["numActive"], stats["numWaiting"]) == ("0", "0")
    assert aria2_client(aria2_peer).rpc.status(gid) is None


def test_aria2_with_a_wrong_secret_is_unhealthy_and_names_the_setting(aria2_peer, tmp_path):
    # given a client configured with the wrong secret
    client = Aria2Client(aria2_peer.url, "not-the-secret", poll_interval=0.1)
    # when it is asked for its health, then it is unhealthy
    assert client.healthy() is False
    # and when it is given a job, then the error is permanent and says what to fix
    link = classify("http://127.0.0.1:9/file.bin")
    with pytest.raises(WrongSecret, match="HAULER_DOWNLOADS_ARIA2_SECRET"):
        client.download(Job(link, tmp_path, tag="hauler-aria2-secret"), lambda _: None)


# --- through downloads.fetch's plain function: redirects, modes -------------------------------


@pytest.fixture
def settings(hauler_env: dict[str, str]) -> Settings:
    """This test's settings, with 127.0.0.1 (only) allowed through the SSRF guard."""
    return Settings.from_env({**hauler_env, "HAULER_DOWNLOADS_ALLOW_NETWORKS": "127.0.0.1/32"})


def fetch_with_aria2(settings: Settings, peer: Aria2Peer, url: str, task_id: str, **args: object):
    request = service.validate(
        settings, url, args.get("dest"), None, "aria2", args.get("sha256"), None
    )
    return service.fetch(
        settings, request, task_id=task_id, progress=lambda _: None, clients=[aria2_client(peer)]
    )


def test_a_redirect_to_a_forbidden_address_is_refused_before_aria2_is_asked(
    aria2_peer, server, other_loopback, settings
):
    # given an allowed address (127.0.0.1) that redirects to one that is not (127.0.0.2)
    other_loopback.resources["/internal"] = Resource(b"internal data")
    server.resources["/go"] = Resource(b"", redirect_to=other_loopback.url("/internal"))
    stopped_before = len(aria2_peer.call("tellStopped", 0, 1000))
    # when a download of the allowed URL is to go through aria2 (which follows redirects)
    with pytest.raises(Forbidden, match=r"127\.0\.0\.2"):
        fetch_with_aria2(settings, aria2_peer, server.url("/go"), "ssrf-hop")
    # then it is refused before aria2 is handed anything, and the forbidden host saw nothing
    assert other_loopback.resources["/internal"].hits == 0
    assert aria2_client(aria2_peer).rpc.status(gid_for("hauler-ssrf-hop")) is None
    assert len(aria2_peer.call("tellStopped", 0, 1000)) == stopped_before
    assert aria2_peer.call("tellActive") == []
    assert not (settings.staging_dir / "ssrf-hop").exists()


def test_aria2_gets_the_url_allowed_redirects_lead_to(aria2_peer, server, settings):
    # given an allowed URL that redirects twice, within the allowed address
    link = serve(server, BODY)
    server.resources["/hop2"] = Resource(b"", redirect_to=link.url)
    server.resources["/hop1"] = Resource(b"", redirect_to="/hop2")
    # when it is downloaded through aria2
    done = fetch_with_aria2(settings, aria2_peer, server.url("/hop1"), "ssrf-ok")
    # then the file is the redirect target's, and each hop was asked once (by Hauler)
    assert Path(done["path"]).read_bytes() == BODY
    hits = [server.resources[p].hits for p in ("/hop1", "/hop2")]
    assert hits == [1, 1], f"hops asked {hits} times"


def test_a_download_through_aria2_lands_as_0644_in_0755_directories(aria2_peer, server, settings):
    # given a file, and a destination two directories deep that does not exist yet
    link = serve(server, BODY)
    # when aria2 downloads it and Hauler places it
    done = fetch_with_aria2(settings, aria2_peer, link.url, "modes-aria2", dest="deep/er")
    # then the file is rw-r--r-- and the directories rwxr-xr-x (the usual umask 022)
    path = Path(done["path"])
    modes = {
        p.name: oct(stat.S_IMODE(p.stat().st_mode)) for p in (path, path.parent, path.parent.parent)
    }
    assert modes == {path.name: "0o644", "er": "0o755", "deep": "0o755"}, modes
