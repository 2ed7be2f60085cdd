"""Secrets never leave the downloads and uploads domain: results, board, events, errors, logs.

A download URL with a password (``http://user:hunter2@…``) and an API key in its query,
an upload destination with a password, and the configured secrets of the download
clients and of S3 go through real workers, a real recorder and real aria2; none of them
shows up where Hauler writes or raises.
"""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path

import pytest
from celery import Celery
from sqlalchemy import select

from hauler import activity
from hauler.downloads import fetch as service
from hauler.downloads.clients.aria2 import Aria2Client
from hauler.downloads.clients.base import TooLarge
from hauler.downloads.clients.registry import configured_clients
from hauler.redact import redact_text
from hauler.settings import Settings
from hauler.store.db import session_scope
from hauler.store.downloads_models import Download
from hauler.uploads.s3 import S3Destination
from tests.integration.http_server import LoopbackServer, Resource
from tests.integration.services import wait_for
from tests.integration.torrent_peers import Aria2Peer, aria2_peer

pytestmark = pytest.mark.integration
__all__ = ["aria2_peer"]  # the fixture imported above, used by name

PASSWORD = "hunter2"
API_KEY = "k3y-sekrit-9f2"
BODY = b"s" * (3 * 1024 * 1024)
HEADER = "hauler_correlation_id"


@pytest.fixture
def env(hauler_env: dict[str, str]) -> dict[str, str]:
    hauler_env["HAULER_DOWNLOADS_ALLOW_NETWORKS"] = "127.0.0.1/32"
    hauler_env["HAULER_UPLOADS_ALLOW_NETWORKS"] = "127.0.0.1/32"
    return hauler_env


def with_secrets(server: LoopbackServer, path: str) -> str:
    """``path`` on ``server`` as a URL carrying a password and an API key."""
    return server.url(path).replace("http://", f"http://user:{PASSWORD}@") + f"?apikey={API_KEY}"


def leaks(text: str) -> list[str]:
    """The secrets found in ``text``."""
    return [secret for secret in (PASSWORD, API_KEY) if secret in text]


def domain_events(pg_url: str, correlation: str) -> list[activity.Activity]:
    rows = activity.timeline(pg_url, correlation)
    return [r for r in rows if (r.event_type or "").startswith(("download.", "upload."))]


def test_a_download_url_with_a_password_leaks_nowhere(
    start_worker, env, client_app: Celery, server: LoopbackServer, recorder, hauler_cli, pg_url
):
    # given a downloads worker, a recorder, and a slow file behind a URL with secrets in it
    worker = start_worker(["downloads"])
    gate = threading.Event()  # the body stops halfway until the board has been read
    server.resources["/slow.bin"] = Resource(BODY, gate=gate)
    url = with_secrets(server, "/slow.bin")
    # when it is downloaded, and `hauler transfers` is asked while it runs
    result = client_app.send_task(
        "downloads.fetch", args=[url], queue="downloads", headers={HEADER: "secret-ok"}
    )
    wait_for(lambda: result.state == "PROGRESS", timeout=30)
    try:
        board = hauler_cli("transfers").stdout
    finally:
        gate.set()
    done = result.get(timeout=60)
    # and a download of a missing file behind such a URL fails
    failed = client_app.send_task(
        "downloads.fetch",
        args=[with_secrets(server, "/missing.bin")],
        queue="downloads",
        headers={HEADER: "secret-404"},
    )
    with pytest.raises(Exception, match="HTTP 404") as refused:
        failed.get(timeout=60)
    # then neither secret is in the board, the result, the error or the downloads table
    assert result.id in board and "user:***@" in board, board
    assert leaks(board) == [], board
    assert leaks(json.dumps(done)) == [], done
    assert leaks(str(refused.value)) == [], str(refused.value)
    with session_scope(pg_url) as session:
        stored = session.scalars(select(Download.url)).all()
    assert stored and all(not leaks(u) for u in stored), stored
    # nor in the domain's activity events (which name the URL, masked)
    for correlation in ("secret-ok", "secret-404"):
        events = wait_for(lambda c=correlation: domain_events(pg_url, c), timeout=30)
        payloads = json.dumps([e.payload for e in events])
        assert "user:***@" in payloads and leaks(payloads) == [], payloads
    # nor in a log line the domain writes (the retry and failure lines carry its messages)
    lines = [line for line in worker.log.read_text().splitlines() if leaks(line)]
    assert lines == [], "\n".join(lines)


def test_an_upload_destination_with_a_password_leaks_nowhere(
    start_worker, env, client_app: Celery, server: LoopbackServer, recorder, pg_url
):
    # given an uploads worker and a file to push to a URL with a password
    worker = start_worker(["uploads"])
    source = Path(env["HAULER_DATA_DIR"]) / "out.bin"
    source.parent.mkdir(parents=True, exist_ok=True)
    source.write_bytes(b"u" * 10_000)
    accepted, refused = with_secrets(server, "/in/out.bin"), with_secrets(server, "/forbidden/x")
    # when one upload is accepted and one refused (403)
    pushed = client_app.send_task(
        "uploads.push", args=[str(source), accepted], queue="uploads", headers={HEADER: "up-ok"}
    ).get(timeout=60)
    with pytest.raises(Exception, match="HTTP 403") as failed:
        client_app.send_task("uploads.push", args=[str(source), refused], queue="uploads").get(
            timeout=60
        )
    # then the result, the error, the upload event and the log hold neither secret
    assert "user:***@" in pushed["destination"] and leaks(json.dumps(pushed)) == [], pushed
    assert leaks(str(failed.value)) == [], str(failed.value)
    events = wait_for(lambda: domain_events(pg_url, "up-ok"), timeout=30)
    assert leaks(json.dumps([e.payload for e in events])) == []
    lines = [line for line in worker.log.read_text().splitlines() if leaks(line)]
    assert lines == [], "\n".join(lines)
    # (the peer itself was of course given the credentials)
    [(path, [entry])] = server.received.items()
    assert path.startswith("/in/out.bin") and entry["bytes"] == 10_000


def test_a_failure_through_aria2_does_not_show_the_password(
    aria2_peer: Aria2Peer, server: LoopbackServer, env: dict[str, str]
):
    # given aria2, and a URL with secrets to a file larger than the caller allows
    server.resources["/large.bin"] = Resource(BODY, chunk_delay=0.005)
    settings = Settings.from_env(env)
    url = with_secrets(server, "/large.bin")
    request = service.validate(settings, url, None, None, "aria2", None, 1024 * 1024)
    client = Aria2Client(aria2_peer.url, aria2_peer.secret, poll_interval=0.1)
    # when aria2 learns the size and Hauler gives up, then the error names the URL masked
    with pytest.raises(TooLarge) as failed:
        service.fetch(
            settings, request, task_id="aria2-large", progress=lambda _: None, clients=[client]
        )
    assert "user:***@" in str(failed.value), failed.value
    assert leaks(str(failed.value)) == [], str(failed.value)


def test_the_configured_client_secrets_are_masked_once_the_clients_are_built(
    env: dict[str, str],
):
    # given settings with every client's secret, none of which looks like a secret by itself
    secrets = {
        "HAULER_DOWNLOADS_ARIA2_SECRET": "aria-Zq81x",
        "HAULER_DOWNLOADS_QBITTORRENT_PASSWORD": "qbit-Pw77",
        "HAULER_DOWNLOADS_SABNZBD_API_KEY": "0f9e8d7c6b5a",
        "HAULER_UPLOADS_S3_ACCESS_KEY_ID": "AKIAEXAMPLE",
        "HAULER_UPLOADS_S3_SECRET_ACCESS_KEY": "s3-Secret-kq2",
    }
    urls = {
        "HAULER_DOWNLOADS_ARIA2_URL": "http://127.0.0.1:9/jsonrpc",
        "HAULER_DOWNLOADS_QBITTORRENT_URL": "http://127.0.0.1:9",
        "HAULER_DOWNLOADS_NZBGET_URL": "http://nzb:nzbget-Pw31@127.0.0.1:9/jsonrpc",
        "HAULER_DOWNLOADS_SABNZBD_URL": "http://127.0.0.1:9/api",
    }
    settings = Settings.from_env({**env, **secrets, **urls})
    values = [v for k, v in secrets.items() if "ACCESS_KEY_ID" not in k] + ["nzbget-Pw31"]
    # when the download clients and an S3 destination are built from them
    configured_clients(settings)
    S3Destination(settings.uploads)
    # then any text that carries one of them (a peer echoing it, say) shows *** instead
    text = redact_text(" / ".join(f"peer said {value!r}" for value in values))
    assert not [v for v in values if v in text], text
    assert len(re.findall(r"\*\*\*", text)) == len(values), text
