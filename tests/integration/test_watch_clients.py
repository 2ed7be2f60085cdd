"""One watch pass over real NZBGet, SABnzbd and qBittorrent: calls per pass, finishing,
failures in the client's words, stalls — the pass function run in this process, with a
bare Celery app as the result backend a foreign caller reads."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from celery import Celery

from hauler.downloads import fetch as service
from hauler.downloads.clients.base import HandOffClient
from hauler.downloads.clients.qbittorrent import QbittorrentClient
from hauler.settings import Settings
from hauler.transfers import handoff, store
from hauler.transfers.watch import Pass, run_pass
from tests.integration.http_server import LoopbackServer
from tests.integration.nntp_server import NntpServer
from tests.integration.nzb_builder import publish
from tests.integration.nzbget_peer import NzbgetPeer
from tests.integration.sabnzbd_peer import SabnzbdPeer
from tests.integration.services import wait_for
from tests.integration.torrent_peers import QbittorrentPeer, qbittorrent_peer

pytestmark = pytest.mark.integration
pytest_plugins = ("tests.integration.usenet_peers",)
__all__ = ["qbittorrent_peer"]  # the fixture imported above, used by name


@pytest.fixture
def settings(hauler_env: dict[str, str]) -> Settings:
    return Settings.from_env(
        {
            **hauler_env,
            "HAULER_DOWNLOADS_ALLOW_NETWORKS": "127.0.0.1/32",
            "HAULER_WATCH_STALL_TIMEOUT": "60",  # the stall test moves the clock
        }
    )


def hand(settings: Settings, client: HandOffClient, url: str) -> str:
    """Hand ``url`` to ``client`` as downloads.fetch would; the task id."""
    task_id = str(uuid.uuid4())
    request = service.validate(settings, url, None, None, client.name, None, None)
    handoff.hand_off(
        settings,
        request,
        client,
        "chosen by the test",
        request.link,
        task_id=task_id,
        correlation_id=task_id,
        canvas={},
        then=[],
    )
    return task_id


def passes_until(
    settings: Settings,
    app: Celery,
    client: HandOffClient,
    done: Callable[[], bool],
    timeout: float = 60,
    now: Callable[[], datetime] | None = None,
) -> list[Pass]:
    seen: list[Pass] = []

    def one() -> bool:
        moment = now() if now else None
        seen.append(run_pass(settings, app, clients={client.name: client}, now=moment))
        return done()

    wait_for(one, timeout=timeout, interval=0.3)
    return seen


def state_of(app: Celery, task_id: str) -> tuple[str, Any]:
    result = app.AsyncResult(task_id)
    return result.state, result.result


def test_nzbget_one_pass_is_two_calls_for_any_number_of_transfers_and_finishes_them(
    settings: Settings,
    client_app: Celery,
    nzbget_peer: NzbgetPeer,
    news_server: NntpServer,
    nzb_site: LoopbackServer,
) -> None:
    client = nzbget_peer.client()
    bodies = [os.urandom(150_000 + i) for i in range(3)]
    client.call("pausedownload")
    try:
        ids = [hand(settings, client, publish(news_server, nzb_site, b, f"n{i}.bin")[0].url)
               for i, b in enumerate(bodies)]  # fmt: skip
        # one pass while NZBGet holds them: listgroups + history, whatever their number
        report = run_pass(settings, client_app, clients={"nzbget": client})
        assert [(c.client, c.calls, c.followed) for c in report.clients] == [("nzbget", 2, 3)]
        assert all(state_of(client_app, i)[0] == "PROGRESS" for i in ids)
    finally:
        client.call("resumedownload")
    passes_until(settings, client_app, client,
                 lambda: all(state_of(client_app, i)[0] == "SUCCESS" for i in ids))  # fmt: skip
    for task_id, body in zip(ids, bodies, strict=True):
        result = client_app.AsyncResult(task_id).get(timeout=5)
        assert result["client"] == "nzbget" and result["bytes"] == len(body)
        assert Path(result["path"]).read_bytes() == body
        assert store.get(settings.database_url, task_id).state == store.DONE  # type: ignore[union-attr]


def test_sabnzbd_finishes_a_job_and_an_incomplete_one_fails_in_its_own_words(
    settings: Settings,
    client_app: Celery,
    sabnzbd_peer: SabnzbdPeer,
    news_server: NntpServer,
    nzb_site: LoopbackServer,
) -> None:
    # (the watch's own give-up: the bare client app runs the pass and has no recovery task)
    client = sabnzbd_peer.client()
    body = os.urandom(300_000)
    good = hand(settings, client, publish(news_server, nzb_site, body, "good.bin")[0].url)
    holey_link, posted = publish(news_server, nzb_site, os.urandom(300_000), "holey.bin")
    news_server.drop(posted.message_ids[0])
    holey = hand(settings, client, holey_link.url)
    seen = passes_until(
        settings,
        client_app,
        client,
        lambda: (
            {state_of(client_app, good)[0], state_of(client_app, holey)[0]}
            == {"SUCCESS", "FAILURE"}
        ),
    )
    assert all(c.calls == 2 for p in seen for c in p.clients)  # queue + history
    assert Path(client_app.AsyncResult(good).get()["path"]).read_bytes() == body
    state, error = state_of(client_app, holey)
    assert state == "FAILURE" and "incomplete" in str(error) and "sabnzbd" in str(error)
    assert store.get(settings.database_url, holey).state == store.GAVE_UP  # type: ignore[union-attr]


def test_a_magnet_nobody_seeds_stalls_in_qbittorrent(
    settings: Settings, client_app: Celery, qbittorrent_peer: QbittorrentPeer
) -> None:
    # (the watch's own give-up: the bare client app runs the pass and has no recovery task)
    client = QbittorrentClient(
        qbittorrent_peer.url, qbittorrent_peer.username, qbittorrent_peer.password, 0.1
    )
    magnet = f"magnet:?xt=urn:btih:{uuid.uuid4().hex}{uuid.uuid4().hex[:8]}&dn=nobody"
    task_id = hand(settings, client, magnet)
    first = run_pass(settings, client_app, clients={"qbittorrent": client})
    assert [(c.calls, c.followed) for c in first.clients] == [(1, 1)]  # one torrents/info
    # when the stall timeout (60 s) passes with no byte (the pass is told it is later)
    later = datetime.now(UTC) + timedelta(seconds=61)
    failed = lambda: state_of(client_app, task_id)[0] == "FAILURE"  # noqa: E731
    passes_until(settings, client_app, client, failed, now=lambda: later)
    _, error = state_of(client_app, task_id)
    assert "stalled" in str(error) and "qbittorrent" in str(error)
    assert store.get(settings.database_url, task_id).message  # type: ignore[union-attr]
