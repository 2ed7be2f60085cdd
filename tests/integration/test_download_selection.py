"""Choosing a client for ``client="auto"`` from affinity, health, load and success, in Redis."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import redis

from hauler.downloads import selection
from hauler.downloads.clients.base import Affinity, Finished, Job
from hauler.downloads.links import Link, LinkKind, classify
from hauler.errors import InvalidArgument, PermanentError, Unsupported
from hauler.progress import ProgressFn

pytestmark = pytest.mark.integration

MAGNET = classify("magnet:?xt=urn:btih:" + "ab" * 20)
DIRECT = classify("https://example.invalid/file.iso")


@dataclass
class Candidate:
    """A client whose affinity and health the test sets; selection never downloads."""

    name: str
    kinds: dict[LinkKind, Affinity]
    up: bool = True

    def affinity(self, link: Link) -> Affinity:
        return self.kinds.get(link.kind, Affinity.INCOMPATIBLE)

    def healthy(self) -> bool:
        return self.up

    def download(self, job: Job, progress: ProgressFn) -> Finished:
        raise AssertionError("selection must not download")


@pytest.fixture
def store(redis_url: str) -> redis.Redis:
    return redis.Redis.from_url(redis_url)


def torrent_clients() -> list[Candidate]:
    return [
        Candidate("http", {LinkKind.DIRECT: Affinity.SPECIALIST}),
        Candidate(
            "aria2", {LinkKind.MAGNET: Affinity.SPECIALIST, LinkKind.DIRECT: Affinity.COMPATIBLE}
        ),
        Candidate("qbittorrent", {LinkKind.MAGNET: Affinity.SPECIALIST}),
    ]


def test_a_specialist_beats_a_compatible_client(store):
    client, reason = selection.choose(DIRECT, torrent_clients(), "auto", store)
    assert client.name == "http"
    assert reason.startswith("specialist for direct, healthy")


def test_among_specialists_the_less_loaded_one_wins(store):
    # given qbittorrent busy with three transfers and aria2 idle, both with no history
    store.hset("hauler:downloads:client:qbittorrent", "active", 3)
    # then a magnet goes to aria2
    client, reason = selection.choose(MAGNET, torrent_clients(), "auto", store)
    assert client.name == "aria2" and "0 active" in reason


def test_a_poor_success_rate_outweighs_load(store):
    # given aria2 failing most of its recent transfers while qbittorrent is busy but reliable
    store.hset("hauler:downloads:client:aria2", mapping={"ok": 2, "failed": 18})
    store.hset("hauler:downloads:client:qbittorrent", mapping={"ok": 30, "active": 2})
    client, reason = selection.choose(MAGNET, torrent_clients(), "auto", store)
    assert client.name == "qbittorrent" and "success 97%" in reason


def test_an_unhealthy_client_is_passed_over(store):
    clients = torrent_clients()
    clients[1].up = False
    assert selection.choose(MAGNET, clients, "auto", store)[0].name == "qbittorrent"


def test_outcomes_and_load_are_counted_in_redis_for_every_worker(store):
    with selection.track(store, "aria2"):
        assert selection.figures(store, "aria2").active == 1
    with pytest.raises(RuntimeError), selection.track(store, "aria2"):
        raise RuntimeError("transfer failed")
    assert selection.figures(store, "aria2") == selection.Figures(active=0, ok=1, failed=1)


def test_a_named_client_must_exist_and_handle_the_link(store):
    with pytest.raises(InvalidArgument, match=r"'client'.*not configured"):
        selection.choose(MAGNET, torrent_clients(), "transmission", store)
    with pytest.raises(InvalidArgument, match="http cannot download magnet"):
        selection.choose(MAGNET, torrent_clients(), "http", store)
    assert selection.choose(MAGNET, torrent_clients(), "qbittorrent", store)[1] == (
        "qbittorrent requested"
    )


def test_a_link_no_client_handles_is_unsupported(store):
    nzb = classify("https://example.invalid/show.nzb")
    with pytest.raises(Unsupported, match="no configured client downloads nzb"):
        selection.choose(nzb, torrent_clients(), "auto", store)


def test_a_bad_link_is_not_held_against_the_client(store):
    with pytest.raises(PermanentError), selection.track(store, "http"):
        raise PermanentError("HTTP 404")
    assert selection.figures(store, "http") == selection.Figures(active=0, ok=0, failed=0)
