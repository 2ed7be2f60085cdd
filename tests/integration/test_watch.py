"""Downloads handed to aria2 and finished by the watch, seen from a bare Celery client.

A real aria2c, real workers (downloads, polling, health for the canvas steps), and a
foreign app that knows only task names: its ``AsyncResult(id).get()``, ``chain``,
``link``/``link_error``, ``group`` and ``chord`` around ``downloads.fetch`` behave as if a
worker had waited for the transfer, though none did.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from celery import Celery, chord, group

from hauler import deadletter
from hauler.transfers import store
from tests.integration.http_server import LoopbackServer, Resource
from tests.integration.services import wait_for
from tests.integration.torrent_peers import Aria2Peer, aria2_peer
from tests.support.watching import watching

pytestmark = pytest.mark.integration
__all__ = ["aria2_peer"]  # the fixture imported above, used by name

BODY = os.urandom(2 * 1024 * 1024 + 7)
SHA = hashlib.sha256(BODY).hexdigest()


@pytest.fixture
def env(hauler_env: dict[str, str], aria2_peer: Aria2Peer) -> dict[str, str]:
    """Hauler with aria2 as its only external client, watching every half second."""
    hauler_env.update(
        HAULER_DOWNLOADS_ALLOW_NETWORKS="127.0.0.1/32",
        HAULER_DOWNLOADS_ARIA2_URL=aria2_peer.url,
        HAULER_DOWNLOADS_ARIA2_SECRET=aria2_peer.secret,
        HAULER_SCHEDULE_WATCH="0.5",
        HAULER_WATCH_STALL_TIMEOUT="8",
        HAULER_RECOVERY_MAX_ATTEMPTS="0",  # recovery gives up at once: no retry to wait for
    )
    return hauler_env


@pytest.fixture
def workers(start_worker, env: dict[str, str]) -> Iterator[object]:
    """ONE worker with ONE slot for downloads, the watch and the canvas steps: a fetch that
    held its slot while aria2 downloads would leave no room for the watch to finish it."""
    yield start_worker(["downloads", "polling", "health", "recovery"], name="one", concurrency=1)


def fetch(app: Celery, url: str, **kwargs: object):
    return app.signature(
        "downloads.fetch", args=[url], kwargs={"client": "aria2", **kwargs}, queue="downloads"
    )


def step(app: Celery, key: str):
    return app.signature("tests.note", kwargs={"key": key}, queue="health")


def notes(redis_url: str, key: str) -> list[object]:
    return [json.loads(v) for v in redis.Redis.from_url(redis_url).lrange(f"note:{key}", 0, -1)]


def offer(server: LoopbackServer, body: bytes = BODY, **misbehaviour: object) -> str:
    path = f"/files/{uuid.uuid4().hex}/data.bin"
    server.resources[path] = Resource(body, **misbehaviour)  # type: ignore[arg-type]
    return server.url(path)


def test_a_handed_off_download_frees_its_slot_and_ends_with_the_same_result(
    workers, env, client_app: Celery, server: LoopbackServer, pg_url: str, hauler_cli
):
    # given a slow source (about 3 s through aria2) and a downloads worker with one slot
    slow = offer(server, chunk_delay=0.1, ranges=False)  # one connection: ~3 s
    handed = fetch(client_app, slow, sha256=SHA, dest="inbox").apply_async()
    # when it is handed off, then the task shows PROGRESS from aria2, no worker holds it,
    # and the one slot is free for another download at once
    wait_for(lambda: (handed.info or {}).get("handed_off") is True, timeout=30)
    quick = offer(server, os.urandom(1000))
    other = client_app.send_task("downloads.fetch", args=[quick], queue="downloads")
    assert other.get(timeout=30)["client"] == "http"
    assert not handed.ready()
    transfer = store.get(pg_url, handed.id)
    assert transfer is not None and transfer.client == "aria2" and transfer.job_id
    # and `hauler transfers` lists it with its client and job
    listing = hauler_cli("transfers").stdout
    assert "handed off: 1" in listing and f"aria2:{transfer.job_id}" in listing
    assert handed.id in listing
    # and when the watch runs, the caller's .get() ends with the usual result
    with watching(client_app) as passes:
        seen_progress = []
        wait_for(lambda: seen_progress.append(handed.info) or handed.ready(), timeout=60)
        result = handed.get(timeout=5)
    path = Path(result["path"])
    assert path == Path(env["HAULER_DATA_DIR"]) / "downloads" / "inbox" / "data.bin"
    assert hashlib.sha256(path.read_bytes()).hexdigest() == SHA
    assert (result["bytes"], result["sha256"], result["client"]) == (len(BODY), SHA, "aria2")
    assert result["download_id"] >= 1 and "seconds" in result and "reason" in result
    assert any(isinstance(i, dict) and i.get("bytes", 0) > 0 for i in seen_progress)
    assert any(p.get("finished") for p in passes)
    # and the transfer is done, aria2 keeps nothing of it, and staging is empty
    assert store.get(pg_url, handed.id).state == store.DONE  # type: ignore[union-attr]
    assert not (Path(env["HAULER_DATA_DIR"]) / "staging" / handed.id).exists()


def test_a_redelivered_fetch_reattaches_and_a_restart_of_every_worker_changes_nothing(
    start_worker, env, client_app: Celery, server: LoopbackServer, aria2_peer: Aria2Peer, pg_url
):
    # given a download handed to aria2, then every downloads worker stopped
    downloads = start_worker(["downloads"], name="dl-a")
    source = offer(server, chunk_delay=0.1, ranges=False)
    task_id = str(uuid.uuid4())
    first = client_app.send_task("downloads.fetch", args=[source], task_id=task_id,
                                 kwargs={"client": "aria2"}, queue="downloads")  # fmt: skip
    wait_for(lambda: store.get(pg_url, task_id) is not None, timeout=30)
    downloads.stop()
    # when the same message comes again (a redelivery) to a new worker
    start_worker(["downloads", "polling"], name="dl-b")
    client_app.send_task("downloads.fetch", args=[source], task_id=task_id,
                         kwargs={"client": "aria2"}, queue="downloads")  # fmt: skip
    wait_for(lambda: (first.info or {}).get("handed_off") is True, timeout=30)
    # then aria2 has the one transfer only, and the watch finishes it
    listed = [
        *aria2_peer.call("tellActive", ["gid", "dir"]),
        *aria2_peer.call("tellStopped", 0, 1000, ["gid", "dir"]),
    ]
    assert len([s["gid"] for s in listed if task_id in s["dir"]]) == 1
    with watching(client_app):
        result = first.get(timeout=60)
    assert hashlib.sha256(Path(result["path"]).read_bytes()).hexdigest() == SHA
    assert store.get(pg_url, task_id).attempts == 1  # type: ignore[union-attr]


def test_the_callers_chain_link_group_and_chord_go_on_after_the_watch(
    workers, env, client_app: Celery, server: LoopbackServer, redis_url: str
):
    key = uuid.uuid4().hex
    url_a, url_b = offer(server), offer(server, os.urandom(4096))
    with watching(client_app):
        # a chain: the next step gets the result dict
        chained = (fetch(client_app, url_a) | step(client_app, f"{key}-chain")).apply_async()
        # link and link_error around a download that works
        linked = fetch(client_app, url_b, dest="linked").apply_async(
            link=step(client_app, f"{key}-link"), link_error=step(client_app, f"{key}-err")
        )
        # a group and a chord of two downloads
        grouped = group(fetch(client_app, url_a, dest="g1"), fetch(client_app, url_b, dest="g2"))
        group_result = grouped.apply_async()
        chorded = chord(
            [fetch(client_app, url_a, dest="c1"), fetch(client_app, url_b, dest="c2")],
            step(client_app, f"{key}-chord"),
        ).apply_async()
        chain_value = chained.get(timeout=90)
        assert linked.get(timeout=60)["client"] == "aria2"
        group_values = group_result.get(timeout=60)
        chord_value = chorded.get(timeout=60)
    assert chain_value["sha256"] == SHA and notes(redis_url, f"{key}-chain") == [chain_value]
    wait_for(lambda: len(notes(redis_url, f"{key}-link")) == 1, timeout=20)
    assert notes(redis_url, f"{key}-link")[0]["path"].endswith("linked/data.bin")
    assert notes(redis_url, f"{key}-err") == []
    assert [v["bytes"] for v in group_values] == [len(BODY), 4096]
    assert [v["bytes"] for v in chord_value] == [len(BODY), 4096]


def test_a_failure_recovery_cannot_help_fails_the_task_clearly_and_calls_link_error(
    workers, env, client_app: Celery, server: LoopbackServer, redis_url: str, pg_url: str
):
    # given a source aria2 gets a 404 from (its errorCode 3, "resource not found")
    key = uuid.uuid4().hex
    missing = offer(server, status=404)
    with watching(client_app):
        handed = fetch(client_app, missing).apply_async(link_error=step(client_app, key))
        # then the task fails with the client's words and the category, for the caller
        with pytest.raises(Exception) as failed:
            handed.get(timeout=60)
    text = str(failed.value)
    assert "aria2 could not download" in text and "not-found" in text
    assert type(failed.value).__name__ == "DownloadFailed"
    # and the caller's errback ran with the task id, and the task is dead-lettered
    wait_for(lambda: notes(redis_url, key) == [handed.id], timeout=20)
    letter = deadletter.get(pg_url, handed.id)
    assert letter is not None and "DownloadFailed" in letter.exception
    assert store.get(pg_url, handed.id).state == store.GAVE_UP  # type: ignore[union-attr]


def test_a_transfer_that_makes_no_progress_is_stalled(
    workers, env, client_app: Celery, server: LoopbackServer, pg_url: str
):
    # given a source that sends its headers and then nothing for a long time
    frozen = offer(server, os.urandom(256 * 1024), chunk_delay=60)
    started = time.monotonic()
    with watching(client_app):
        handed = fetch(client_app, frozen).apply_async()
        with pytest.raises(Exception) as failed:
            handed.get(timeout=60)
    # then after HAULER_WATCH_STALL_TIMEOUT (8 s) it is a failure of category "stalled"
    assert time.monotonic() - started >= 8
    transfer = store.get(pg_url, handed.id)
    assert transfer is not None and transfer.state == store.GAVE_UP
    assert "stalled" in str(failed.value)
