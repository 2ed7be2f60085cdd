"""The SABnzbd client against the SABnzbd protocol double (SABnzbd has no Debian package)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from hauler.downloads import fetch as service
from hauler.downloads.clients.base import ClientFailed, DownloadClient, Job, TooLarge
from hauler.downloads.clients.sabnzbd import SabnzbdClient, SabnzbdRejected
from hauler.downloads.links import Link, classify
from hauler.downloads.safety import Forbidden
from hauler.progress import Progress
from hauler.settings import Settings
from tests.integration.download_contract import PeerClientContract
from tests.integration.http_server import LoopbackServer, Resource, free_port
from tests.integration.nntp_server import NntpServer
from tests.integration.nzb_builder import publish, publish_local
from tests.integration.sabnzbd_double import API_KEY, NOT_COMPLETE, SabnzbdDouble
from tests.integration.services import wait_for

pytestmark = pytest.mark.integration
pytest_plugins = ("tests.integration.usenet_peers",)


class WorkerLost(Exception):
    """Stands for a worker that dies in the middle of a download."""


def die(_: Progress) -> None:
    raise WorkerLost


def sab(double: SabnzbdDouble) -> SabnzbdClient:
    return SabnzbdClient(double.url, API_KEY, 0.05)


def calls(double: SabnzbdDouble, mode: str, **where: str) -> int:
    return sum(
        1
        for c in double.calls
        if c.get("mode") == mode and all(c.get(k) == v for k, v in where.items())
    )


class TestSabnzbdContract(PeerClientContract):
    """SABnzbd's API, as the double speaks it, fed .nzb URLs from a loopback indexer."""

    foreign_url = "magnet:?xt=urn:btih:abababababababababababababababababababab"

    @pytest.fixture
    def client(self, sabnzbd_double: SabnzbdDouble) -> DownloadClient:
        return sab(sabnzbd_double)

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


def test_a_failed_jobs_fail_message_reaches_the_error(
    sabnzbd_double: SabnzbdDouble,
    news_server: NntpServer,
    nzb_site: LoopbackServer,
    tmp_path: Path,
) -> None:
    # given SABnzbd will fail the job in post-processing
    link, _ = publish(news_server, nzb_site, os.urandom(200_000), "broken.bin")
    sabnzbd_double.fail_next("hauler-broken", "Repair failed, not enough repair blocks (4 short)")
    client = sab(sabnzbd_double)
    # when the job runs
    with pytest.raises(ClientFailed) as failed:
        client.download(Job(link, tmp_path, tag="hauler-broken"), lambda _: None)
    # then its fail_message is the error's, and the history entry is gone
    assert "Repair failed, not enough repair blocks (4 short)" in str(failed.value)
    assert client.find("hauler-broken") is None


def test_a_missing_article_is_sabnzbds_not_complete_failure(
    sabnzbd_double: SabnzbdDouble,
    news_server: NntpServer,
    nzb_site: LoopbackServer,
    tmp_path: Path,
) -> None:
    link, posted = publish(news_server, nzb_site, os.urandom(300_000), "holey.bin")
    news_server.corrupt(posted.message_ids[0])
    with pytest.raises(ClientFailed) as failed:
        sab(sabnzbd_double).download(Job(link, tmp_path, tag="hauler-holey"), lambda _: None)
    assert NOT_COMPLETE in str(failed.value)


def test_a_local_nzb_is_uploaded_with_addfile(
    sabnzbd_double: SabnzbdDouble, news_server: NntpServer, tmp_path: Path
) -> None:
    body = os.urandom(300_000)
    link, _ = publish_local(news_server, tmp_path, body, "local.bin")
    (tmp_path / "work").mkdir()
    job = Job(link, tmp_path / "work", tag="hauler-upload", filename="wanted.bin")
    finished = sab(sabnzbd_double).download(job, lambda _: None)
    assert finished.path == tmp_path / "work" / "wanted.bin"
    assert finished.path.read_bytes() == body
    assert calls(sabnzbd_double, "addfile", nzbname="hauler-upload") == 1


def test_a_redelivered_task_reattaches_by_tag_instead_of_adding_twice(
    sabnzbd_double: SabnzbdDouble,
    news_server: NntpServer,
    nzb_site: LoopbackServer,
    tmp_path: Path,
) -> None:
    # given a worker that added a job and died while SABnzbd held it in the queue
    body = os.urandom(400_000)
    link, _ = publish(news_server, nzb_site, body, "again.bin")
    job = Job(link, tmp_path, tag="hauler-redelivered")
    sabnzbd_double.paused = True
    try:
        with pytest.raises(WorkerLost):
            sab(sabnzbd_double).download(job, die)
    finally:
        sabnzbd_double.paused = False
    # when the task is delivered again, to a fresh client
    finished = sab(sabnzbd_double).download(job, lambda _: None)
    # then the one job was found again by its name, not added twice
    assert finished.path.read_bytes() == body
    assert calls(sabnzbd_double, "addurl", nzbname="hauler-redelivered") == 1


def test_a_failure_nobody_saw_is_retried_once_on_redelivery(
    sabnzbd_double: SabnzbdDouble,
    news_server: NntpServer,
    nzb_site: LoopbackServer,
    tmp_path: Path,
) -> None:
    # given a job that failed after its worker died, so the failure reached no one
    body = os.urandom(300_000)
    link, _ = publish(news_server, nzb_site, body, "unseen.bin")
    job = Job(link, tmp_path, tag="hauler-unseen")
    sabnzbd_double.fail_next("hauler-unseen", "Unpacking failed, write error or disk is full?")
    sabnzbd_double.paused = True
    with pytest.raises(WorkerLost):
        sab(sabnzbd_double).download(job, die)
    sabnzbd_double.paused = False
    client = sab(sabnzbd_double)
    wait_for(lambda: (client.find(job.tag) or ("", {}))[1].get("status") == "Failed")
    # when the task is delivered again
    finished = client.download(job, lambda _: None)
    # then SABnzbd retried the job in place and this time it came through
    assert finished.path.read_bytes() == body
    assert calls(sabnzbd_double, "retry") >= 1
    assert calls(sabnzbd_double, "addurl", nzbname="hauler-unseen") == 1


@pytest.mark.parametrize("local", [False, True], ids=["addurl", "addfile"])
def test_max_bytes_is_enforced_from_the_nzb_size(
    local: bool,
    sabnzbd_double: SabnzbdDouble,
    news_server: NntpServer,
    nzb_site: LoopbackServer,
    tmp_path: Path,
) -> None:
    body = os.urandom(2 * 1024 * 1024)
    if local:
        link, _ = publish_local(news_server, tmp_path, body, "big.bin")
    else:
        link, _ = publish(news_server, nzb_site, body, "big.bin")
    client = sab(sabnzbd_double)
    tag = f"hauler-big-{int(local)}"
    with pytest.raises(TooLarge):
        client.download(Job(link, tmp_path, tag=tag, max_bytes=1024 * 1024), lambda _: None)
    assert client.find(tag) is None


def test_a_wrong_api_key_is_a_permanent_error_naming_the_setting(
    sabnzbd_double: SabnzbdDouble, nzb_site: LoopbackServer, tmp_path: Path
) -> None:
    wrong = SabnzbdClient(sabnzbd_double.url, "not-the-key", 0.1)
    assert wrong.healthy() is False
    link = classify(nzb_site.url("/nzb/whatever.nzb"))
    with pytest.raises(SabnzbdRejected) as rejected:
        wrong.download(Job(link, tmp_path, tag="hauler-wrong-key"), lambda _: None)
    assert "HAULER_DOWNLOADS_SABNZBD_API_KEY" in str(rejected.value)
    assert "API Key Incorrect" in str(rejected.value)


def test_an_nzb_url_redirecting_to_a_forbidden_address_is_refused_before_sabnzbd_sees_it(
    sabnzbd_double: SabnzbdDouble,
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
    added = calls(sabnzbd_double, "addurl")
    # when it is to be downloaded through SABnzbd (which fetches the URL itself)
    with pytest.raises(Forbidden, match=r"127\.0\.0\.2"):
        service.fetch(
            settings,
            request,
            task_id="ssrf-sab",
            progress=lambda _: None,
            clients=[sab(sabnzbd_double)],
        )
    # then SABnzbd was never given it, and the forbidden host saw nothing
    assert calls(sabnzbd_double, "addurl") == added
    assert other_loopback.resources["/internal.nzb"].hits == 0
