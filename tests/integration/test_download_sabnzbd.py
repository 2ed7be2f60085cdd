"""The SABnzbd client against a real SABnzbd (Debian's sabnzbdplus) on a loopback news server."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from hauler.downloads import fetch as service
from hauler.downloads.clients.base import ClientFailed, DownloadClient, Job, TooLarge
from hauler.downloads.clients.sabnzbd import SabnzbdClient, SabnzbdRejected
from hauler.downloads.links import Link, classify
from hauler.downloads.safety import Forbidden
from hauler.errors import PermanentError
from hauler.progress import Progress
from hauler.settings import Settings
from tests.integration.download_contract import PeerClientContract
from tests.integration.http_server import LoopbackServer, Resource, free_port
from tests.integration.nntp_server import NntpServer
from tests.integration.nzb_builder import publish, publish_local
from tests.integration.sabnzbd_peer import API_KEY, SabnzbdPeer
from tests.integration.services import wait_for

pytestmark = pytest.mark.integration
pytest_plugins = ("tests.integration.usenet_peers",)
SEGMENTS = 9  # articles of a file posted with publish(): 9 * 192 KiB
NOT_COMPLETE = "Aborted, cannot be completed"  # SABnzbd's fail_message (nzbstuff.py)


class WorkerLost(Exception):
    """Stands for a worker that dies in the middle of a download."""


def die(_: Progress) -> None:
    raise WorkerLost


class Recording(SabnzbdClient):
    """The SABnzbd client, noting each API call it makes (mode and parameters)."""

    def __init__(self, url: str, api_key: str, poll_interval: float = 0.1) -> None:
        super().__init__(url, api_key, poll_interval)
        self.calls: list[dict[str, Any]] = []

    def call(
        self,
        mode: str,
        params: Mapping[str, Any] | None = None,
        upload: tuple[str, bytes] | None = None,
    ) -> dict[str, Any]:
        self.calls.append({"mode": mode, **(params or {})})
        return super().call(mode, params, upload)

    def count(self, mode: str, **where: Any) -> int:
        return sum(
            1
            for c in self.calls
            if c["mode"] == mode and all(c.get(k) == v for k, v in where.items())
        )


def sab(peer: SabnzbdPeer) -> Recording:
    return Recording(peer.url, peer.api_key, 0.1)


@contextmanager
def held(peer: SabnzbdPeer) -> Iterator[None]:
    """SABnzbd's downloads paused meanwhile: what is added waits in the queue."""
    peer.api("pause")
    try:
        yield
    finally:
        peer.api("resume")


def history_status(peer: SabnzbdPeer, tag: str) -> str:
    slots = peer.api("history", search=tag)["history"]["slots"]
    return str(slots[0]["status"]) if slots else ""


class TestSabnzbdContract(PeerClientContract):
    """SABnzbd 3.7 (Debian's sabnzbdplus), given .nzb files Hauler read from a loopback indexer."""

    foreign_url = "magnet:?xt=urn:btih:abababababababababababababababababababab"

    @pytest.fixture
    def client(self, sabnzbd_peer: SabnzbdPeer) -> DownloadClient:
        return sab(sabnzbd_peer)

    @pytest.fixture
    def offer(
        self, news_server: NntpServer, nzb_site: LoopbackServer
    ) -> Callable[[bytes, str], Link]:
        return lambda body, name: publish(news_server, nzb_site, body, name)[0]

    @pytest.fixture
    def bad_link(self, news_server: NntpServer, nzb_site: LoopbackServer) -> Link:
        link, posted = publish(news_server, nzb_site, os.urandom(300_000), "bad.bin")
        news_server.drop(posted.message_ids[-1])
        return link

    @pytest.fixture
    def down_client(self) -> DownloadClient:
        return SabnzbdClient(f"http://127.0.0.1:{free_port()}/api", API_KEY, 0.1, timeout=2)

    @pytest.fixture
    def down_link(self, nzb_site: LoopbackServer) -> Link:
        return classify(nzb_site.url("/nzb/never-fetched.nzb"))


def test_a_missing_article_fails_for_good_although_sabnzbd_calls_the_job_completed(
    sabnzbd_peer: SabnzbdPeer,
    news_server: NntpServer,
    nzb_site: LoopbackServer,
    tmp_path: Path,
) -> None:
    # given an .nzb (no par2) one of whose two articles the news server does not have
    link, posted = publish(news_server, nzb_site, os.urandom(300_000), "holey.bin")
    news_server.drop(posted.message_ids[0])
    client = sab(sabnzbd_peer)
    # when the job runs (SABnzbd's history says Completed, with an empty fail_message)
    with pytest.raises(ClientFailed) as failed:
        client.download(Job(link, tmp_path, tag="hauler-holey"), lambda _: None)
    # then the shortfall is the error, nothing truncated is handed over, and the history
    # entry is gone
    assert f"of the {posted.nzb.bytes} bytes of articles" in str(failed.value)
    assert list(tmp_path.iterdir()) == []
    assert client.find("hauler-holey") is None


def test_a_job_sabnzbd_aborts_fails_for_good_with_its_fail_message(
    sabnzbd_peer: SabnzbdPeer,
    news_server: NntpServer,
    nzb_site: LoopbackServer,
    tmp_path: Path,
) -> None:
    # given an .nzb 7 of whose 9 articles are missing (more than SABnzbd lets pass)
    link, posted = publish(news_server, nzb_site, os.urandom(SEGMENTS * 192 * 1024), "gone.bin")
    for message_id in posted.message_ids[1:8]:
        news_server.drop(message_id)
    client = sab(sabnzbd_peer)
    # when the job runs
    with pytest.raises(ClientFailed) as failed:
        client.download(Job(link, tmp_path, tag="hauler-gone"), lambda _: None)
    # then SABnzbd's fail_message is the error's, and the history entry is gone
    assert NOT_COMPLETE in str(failed.value)
    assert client.find("hauler-gone") is None


def test_a_local_nzb_is_uploaded_with_addfile(
    sabnzbd_peer: SabnzbdPeer, news_server: NntpServer, tmp_path: Path
) -> None:
    body = os.urandom(300_000)
    link, _ = publish_local(news_server, tmp_path, body, "local.bin")
    (tmp_path / "work").mkdir()
    job = Job(link, tmp_path / "work", tag="hauler-upload", filename="wanted.bin")
    client = sab(sabnzbd_peer)
    finished = client.download(job, lambda _: None)
    assert finished.path == tmp_path / "work" / "wanted.bin"
    assert finished.path.read_bytes() == body
    assert client.count("addfile", nzbname="hauler-upload") == 1


def test_a_redelivered_task_reattaches_by_tag_instead_of_adding_twice(
    sabnzbd_peer: SabnzbdPeer,
    news_server: NntpServer,
    nzb_site: LoopbackServer,
    tmp_path: Path,
) -> None:
    # given a worker that added a job and died while SABnzbd held it in the queue
    body = os.urandom(400_000)
    link, _ = publish(news_server, nzb_site, body, "again.bin")
    job = Job(link, tmp_path, tag="hauler-redelivered")
    first = sab(sabnzbd_peer)
    with held(sabnzbd_peer), pytest.raises(WorkerLost):
        first.download(job, die)
    # when the task is delivered again, to a fresh client
    second = sab(sabnzbd_peer)
    finished = second.download(job, lambda _: None)
    # then the one job was found again by its name, not added twice
    assert finished.path.read_bytes() == body
    added = first.count("addfile") + second.count("addfile")
    assert added == 1, f"addfile sent {added} times"


def test_a_failure_nobody_saw_is_downloaded_again_once_on_redelivery(
    sabnzbd_peer: SabnzbdPeer,
    news_server: NntpServer,
    nzb_site: LoopbackServer,
    tmp_path: Path,
) -> None:
    # given a job that SABnzbd aborted (articles missing) after its worker died, unseen
    body = os.urandom(SEGMENTS * 192 * 1024)
    link, posted = publish(news_server, nzb_site, body, "unseen.bin")
    gone = {m: news_server.get(m) for m in posted.message_ids[1:8]}
    for message_id in gone:
        news_server.drop(message_id)
    job = Job(link, tmp_path, tag="hauler-unseen")
    first = sab(sabnzbd_peer)
    with held(sabnzbd_peer), pytest.raises(WorkerLost):
        first.download(job, die)
    wait_for(lambda: history_status(sabnzbd_peer, job.tag) == "Failed", timeout=30)
    # when the articles are back on the server and the task is delivered again
    for message_id, article in gone.items():
        assert article is not None
        news_server.post(message_id, article)
    second = sab(sabnzbd_peer)
    finished = second.download(job, lambda _: None)
    # then the failed job was deleted and added once more (not mode=retry, which keeps
    # the partial file), and the whole file came through
    assert finished.path.read_bytes() == body
    assert (first.count("addfile"), second.count("addfile"), second.count("retry")) == (1, 1, 0)
    assert history_status(sabnzbd_peer, job.tag) == ""


@pytest.mark.parametrize("local", [False, True], ids=["url", "file"])
def test_max_bytes_known_from_the_nzb_is_refused_before_anything_is_added(
    local: bool,
    sabnzbd_peer: SabnzbdPeer,
    news_server: NntpServer,
    nzb_site: LoopbackServer,
    tmp_path: Path,
) -> None:
    body = os.urandom(2 * 1024 * 1024)
    if local:
        link, _ = publish_local(news_server, tmp_path, body, "big.bin")
    else:
        link, _ = publish(news_server, nzb_site, body, "big.bin")
    client = sab(sabnzbd_peer)
    tag = f"hauler-big-{int(local)}"
    with pytest.raises(TooLarge):
        client.download(Job(link, tmp_path, tag=tag, max_bytes=1024 * 1024), lambda _: None)
    assert client.count("addfile") == 0
    assert client.find(tag) is None


def test_a_wrong_api_key_is_a_permanent_error_naming_the_setting(
    sabnzbd_peer: SabnzbdPeer, nzb_site: LoopbackServer, tmp_path: Path
) -> None:
    wrong = SabnzbdClient(sabnzbd_peer.url, "not-the-key", 0.1)
    assert wrong.healthy() is False
    link = classify(nzb_site.url("/nzb/whatever.nzb"))
    with pytest.raises(SabnzbdRejected) as rejected:
        wrong.download(Job(link, tmp_path, tag="hauler-wrong-key"), lambda _: None)
    assert "HAULER_DOWNLOADS_SABNZBD_API_KEY" in str(rejected.value)
    assert "API Key Incorrect" in str(rejected.value)


@pytest.mark.parametrize("where", ["missing url", "not an nzb"])
def test_an_nzb_that_cannot_be_read_is_a_permanent_error_and_nothing_is_added(
    where: str, sabnzbd_peer: SabnzbdPeer, nzb_site: LoopbackServer, tmp_path: Path
) -> None:
    nzb_site.resources["/nzb/html.nzb"] = Resource(b"<html>not an nzb</html>")
    path = "/nzb/absent.nzb" if where == "missing url" else "/nzb/html.nzb"
    client = sab(sabnzbd_peer)
    with pytest.raises(PermanentError):
        client.download(
            Job(classify(nzb_site.url(path)), tmp_path, tag="hauler-unread"), lambda _: None
        )
    assert client.count("addfile") == 0


def test_an_nzb_url_redirecting_to_a_forbidden_address_is_refused_before_sabnzbd_sees_it(
    sabnzbd_peer: SabnzbdPeer,
    nzb_site: LoopbackServer,
    other_loopback: LoopbackServer,
    hauler_env: dict[str, str],
) -> None:
    # given 127.0.0.1 allowed, 127.0.0.2 not, and an .nzb URL on the first leading to the second
    other_loopback.resources["/internal.nzb"] = Resource(b"<nzb/>")
    nzb_site.resources["/nzb/go.nzb"] = Resource(
        b"", redirect_to=other_loopback.url("/internal.nzb")
    )
    settings = Settings.from_env({**hauler_env, "HAULER_DOWNLOADS_ALLOW_NETWORKS": "127.0.0.1/32"})
    request = service.validate(
        settings, nzb_site.url("/nzb/go.nzb"), None, None, "sabnzbd", None, None
    )
    client = sab(sabnzbd_peer)
    # when it is to be downloaded through SABnzbd (which fetches the URL itself)
    with pytest.raises(Forbidden, match=r"127\.0\.0\.2"):
        service.fetch(
            settings, request, task_id="ssrf-sab", progress=lambda _: None, clients=[client]
        )
    # then SABnzbd was never given it, and the forbidden host saw nothing
    assert client.count("addfile") == 0
    assert other_loopback.resources["/internal.nzb"].hits == 0
