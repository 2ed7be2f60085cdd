"""Client-level backoff and the disk-full pause in Redis take a client out of selection,
and `hauler status` says so."""

from __future__ import annotations

import time

import pytest
import redis

from hauler.downloads import client_backoff, client_pause, selection
from hauler.downloads.client_backoff import GRACE, Backoffs
from hauler.downloads.clients.aria2 import Aria2Client
from hauler.downloads.clients.base import ClientUnavailable
from hauler.downloads.clients.http import HttpClient
from hauler.downloads.links import classify
from tests.integration.http_server import free_port

pytestmark = pytest.mark.integration


def test_a_failing_client_is_taken_out_then_back_and_status_shows_it(redis_url, hauler_cli):
    store = redis.Redis.from_url(redis_url)
    http = HttpClient()
    aria2 = Aria2Client(f"http://127.0.0.1:{free_port()}/jsonrpc", "s", timeout=1)
    link = classify("http://127.0.0.1:9/file.bin")
    # given aria2's calls failed at the start of the grace and again after it
    now = time.time()
    Backoffs(store).failure("aria2", now - GRACE - 1)
    before, after = Backoffs(store).failure("aria2", now)
    assert (before.level, after.level) == (1, 2) and after.remaining(now) == pytest.approx(300)
    # then aria2 is out of selection: asked by name it is unavailable, "auto" passes it by
    with pytest.raises(ClientUnavailable, match="aria2 is backed off"):
        selection.choose(link, [http, aria2], "aria2", store)
    assert selection.choose(link, [http, aria2], "auto", store)[0] is http
    # and with http paused for a full disk too, no client is left for now (retryable)
    assert client_pause.pause(store, "http", "disk full")
    assert not client_pause.pause(store, "http", "disk full")  # alerted once only
    with pytest.raises(ClientUnavailable, match="http is paused"):
        selection.choose(link, [http, aria2], "auto", store)
    shown = hauler_cli("status")
    assert shown.returncode == 0, shown.stderr
    assert "aria2" in shown.stdout and "backed off" in shown.stdout
    assert "http" in shown.stdout and "paused: disk full" in shown.stdout
    # when aria2 answers once and http has room again, both are back
    client_backoff.note_call(store, "aria2", ok=True)
    client_pause.resume(store, "http")
    assert selection.out_of_selection(store, "aria2") is None
    assert Backoffs(store).get("aria2").level == 1  # one step back per success
    assert selection.out_of_selection(store, "http") is None
