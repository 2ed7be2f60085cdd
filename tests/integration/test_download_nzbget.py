"""The NZBGet client against a real NZBGet reading from a loopback news server."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from hauler.downloads import fetch as service
from hauler.downloads.clients.base import ClientFailed, DownloadClient, Job, TooLarge
from hauler.downloads.clients.nzbget import NzbgetClient, NzbgetRejected
from hauler.downloads.links import Link, classify
from hauler.downloads.nzb import Nzb, least_size
from hauler.errors import PermanentError
from hauler.progress import Progress
from hauler.settings import Settings
from tests.integration.download_contract import PeerClientContract
from tests.integration.http_server import LoopbackServer, Resource, free_port
from tests.integration.nntp_server import NntpServer
from tests.integration.nzb_builder import post, publish, publish_local, render
from tests.integration.nzbget_peer import NzbgetPeer
from tests.integration.services import wait_for

pytestmark = pytest.mark.integration
pytest_plugins = ("tests.integration.usenet_peers",)


class WorkerLost(Exception):
    """Stands for a worker that dies in the middle of a download."""


def die(_: Progress) -> None:
    raise WorkerLost


@contextmanager
def held(peer: NzbgetPeer) -> Iterator[None]:
    """NZBGet's download queue paused meanwhile: what is added waits in the queue."""
    peer.client().call("pausedownload")
    try:
        yield
    finally:
        peer.client().call("resumedownload")


class TestNzbgetContract(PeerClientContract):
    """NZBGet 21 (Debian's), fed .nzb files from a loopback indexer."""

    foreign_url = "magnet:?xt=urn:btih:abababababababababababababababababababab"

    @pytest.fixture
    def client(self, nzbget_peer: NzbgetPeer) -> DownloadClient:
        return nzbget_peer.client()

    @pytest.fixture
    def offer(
        self, news_server: NntpServer, nzb_site: LoopbackServer
    ) -> Callable[[bytes, str], Link]:
        return lambda body, name: publish(news_server, nzb_site, body, name)[0]

    @pytest.fixture
    def bad_link(self, news_server: NntpServer, nzb_site: LoopbackServer) -> Link:
        link, posted = publish(news_server, nzb_site, os.urandom(300_000), "bad.bin")
        news_server.drop(posted.message_ids[0])
        return link

    @pytest.fixture
    def down_client(self) -> DownloadClient:
        return NzbgetClient(f"http://hauler:x@127.0.0.1:{free_port()}/jsonrpc", 0.1, timeout=2)

    @pytest.fixture
    def down_link(self, nzb_site: LoopbackServer) -> Link:
        return classify(nzb_site.url("/nzb/never-fetched.nzb"))


def test_a_missing_article_fails_for_good_with_nzbgets_reason(
    nzbget_peer: NzbgetPeer, news_server: NntpServer, nzb_site: LoopbackServer, tmp_path: Path
) -> None:
    # given a posted file one of whose articles the news server no longer has
    link, posted = publish(news_server, nzb_site, os.urandom(500_000), "holey.bin")
    news_server.drop(posted.message_ids[1])
    client = nzbget_peer.client()
    # when NZBGet downloads it
    with pytest.raises(ClientFailed) as failed:
        client.download(Job(link, tmp_path, tag="hauler-holey"), lambda _: None)
    # then the error carries NZBGet's verdict, and NZBGet keeps nothing of it
    assert "FAILURE/HEALTH" in str(failed.value)
    assert "1 of 3 articles failed" in str(failed.value)
    assert client.find("hauler-holey") is None
    assert not (nzbget_peer.root / "intermediate").exists() or not any(
        p.name.startswith("hauler-holey") for p in (nzbget_peer.root / "intermediate").iterdir()
    )


def test_a_local_nzb_is_sent_as_content_and_the_file_takes_the_wanted_name(
    nzbget_peer: NzbgetPeer, news_server: NntpServer, tmp_path: Path
) -> None:
    body = os.urandom(400_000)
    link, _ = publish_local(news_server, tmp_path, body, "original.bin")
    (tmp_path / "work").mkdir()
    job = Job(link, tmp_path / "work", tag="hauler-local", filename="wanted.bin")
    finished = nzbget_peer.client().download(job, lambda _: None)
    assert finished.path == tmp_path / "work" / "wanted.bin"
    assert finished.path.read_bytes() == body


def test_several_files_come_out_as_one_directory(
    nzbget_peer: NzbgetPeer, news_server: NntpServer, nzb_site: LoopbackServer, tmp_path: Path
) -> None:
    # given one .nzb listing two posted files
    first, second = os.urandom(100_000), os.urandom(150_000)
    files = (
        post(news_server, first, "one.bin").nzb.files
        + post(news_server, second, "two.bin").nzb.files
    )
    nzb_site.resources["/nzb/pair.nzb"] = Resource(render(Nzb(files)))
    # when it is downloaded
    job = Job(classify(nzb_site.url("/nzb/pair.nzb")), tmp_path, tag="hauler-pair")
    finished = nzbget_peer.client().download(job, lambda _: None)
    # then both files are in one directory inside the work directory
    assert finished.path.is_dir() and finished.path.parent == tmp_path
    assert (finished.path / "one.bin").read_bytes() == first
    assert (finished.path / "two.bin").read_bytes() == second
    assert finished.bytes == len(first) + len(second)


def test_a_redelivered_task_reattaches_by_tag_instead_of_adding_twice(
    nzbget_peer: NzbgetPeer, news_server: NntpServer, nzb_site: LoopbackServer, tmp_path: Path
) -> None:
    # given a worker that added a download and died while NZBGet held it in the queue
    body = os.urandom(600_000)
    link, posted = publish(news_server, nzb_site, body, "again.bin")
    job = Job(link, tmp_path, tag="hauler-redelivered")
    with held(nzbget_peer):
        with pytest.raises(WorkerLost):
            nzbget_peer.client().download(job, die)
        assert (nzbget_peer.client().find(job.tag) or ("nowhere",))[0] == "queue"
    # when the task is delivered again, to a fresh client (another worker, say)
    finished = nzbget_peer.client().download(job, lambda _: None)
    # then it got the same download: every article was fetched once, and NZBGet is clean
    assert finished.path.read_bytes() == body
    asked = Counter(news_server.requests)
    assert [asked[m] for m in posted.message_ids] == [1] * len(posted.message_ids)
    assert nzbget_peer.client().find(job.tag) is None


def test_a_failure_nobody_saw_is_downloaded_again_once_on_redelivery(
    nzbget_peer: NzbgetPeer, news_server: NntpServer, nzb_site: LoopbackServer, tmp_path: Path
) -> None:
    # given a download that failed for a missing article after its worker died
    body = os.urandom(400_000)
    link, posted = publish(news_server, nzb_site, body, "late.bin")
    missing = posted.message_ids[0]
    article = news_server.articles[missing]
    news_server.drop(missing)
    job = Job(link, tmp_path, tag="hauler-unseen-failure")
    with held(nzbget_peer), pytest.raises(WorkerLost):
        nzbget_peer.client().download(job, die)
    client = nzbget_peer.client()
    wait_for(lambda: (client.find(job.tag) or ("", {}))[0] == "history", timeout=20)
    # when the article is back and the task is delivered again
    news_server.post(missing, article)
    finished = client.download(job, lambda _: None)
    # then NZBGet downloaded it again (HistoryRedownload) and the file is whole
    assert finished.path.read_bytes() == body
    assert client.find(job.tag) is None


def test_max_bytes_known_from_the_nzb_is_refused_before_anything_is_added(
    nzbget_peer: NzbgetPeer, news_server: NntpServer, nzb_site: LoopbackServer, tmp_path: Path
) -> None:
    link, _ = publish(news_server, nzb_site, os.urandom(300_000), "big.bin")
    client = nzbget_peer.client()
    with pytest.raises(TooLarge):
        client.download(Job(link, tmp_path, tag="hauler-big", max_bytes=100_000), lambda _: None)
    assert client.find("hauler-big") is None


def test_a_download_found_larger_than_max_bytes_only_when_done_is_too_large(
    nzbget_peer: NzbgetPeer,
    news_server: NntpServer,
    nzb_site: LoopbackServer,
    hauler_env: dict[str, str],
) -> None:
    # given a posted file whose .nzb promises fewer bytes than it holds, and a limit between
    body = os.urandom(300_000)
    link, posted = publish(news_server, nzb_site, body, "grown.bin")
    limit = (least_size(posted.nzb) + len(body)) // 2
    assert least_size(posted.nzb) < limit < len(body)
    settings = Settings.from_env({**hauler_env, "HAULER_DOWNLOADS_ALLOW_NETWORKS": "127.0.0.1/32"})
    request = service.validate(settings, link.url, None, None, "nzbget", None, limit)
    # when NZBGet downloads it (it cannot know the size before the end)
    with pytest.raises(TooLarge, match=f"more than max_bytes={limit}"):
        service.fetch(
            settings,
            request,
            task_id="grown",
            progress=lambda _: None,
            clients=[nzbget_peer.client()],
        )
    # then the breach is TooLarge, as for every client, and nothing of it is kept
    assert not (settings.staging_dir / "grown").exists()
    assert not settings.download_dir.exists() or not any(settings.download_dir.rglob("*"))


def test_wrong_credentials_are_a_permanent_error_naming_the_setting(
    nzbget_peer: NzbgetPeer, nzb_site: LoopbackServer, tmp_path: Path
) -> None:
    wrong = NzbgetClient(nzbget_peer.url.replace(":rpc-secret@", ":not-it@"), 0.1)
    assert wrong.healthy() is False
    link = classify(nzb_site.url("/nzb/whatever.nzb"))
    with pytest.raises(NzbgetRejected) as rejected:
        wrong.download(Job(link, tmp_path, tag="hauler-wrong-password"), lambda _: None)
    assert "HAULER_DOWNLOADS_NZBGET_URL" in str(rejected.value)
    assert "not-it" not in str(rejected.value)


@pytest.mark.parametrize("where", ["missing url", "missing file", "not an nzb"])
def test_an_nzb_that_cannot_be_read_is_a_permanent_error(
    where: str, nzbget_peer: NzbgetPeer, nzb_site: LoopbackServer, tmp_path: Path
) -> None:
    nzb_site.resources["/nzb/page.nzb"] = Resource(b"<html><body>log in first</body></html>")
    link = {
        "missing url": classify(nzb_site.url("/nzb/gone.nzb")),
        "missing file": classify(str(tmp_path / "gone.nzb")),
        "not an nzb": classify(nzb_site.url("/nzb/page.nzb")),
    }[where]
    with pytest.raises(PermanentError):
        nzbget_peer.client().download(Job(link, tmp_path, tag="hauler-unreadable"), lambda _: None)
