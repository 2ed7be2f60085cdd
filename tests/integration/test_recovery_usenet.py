"""Real SABnzbd and NZBGet failures, classified by the texts the programs themselves write:
articles the news server does not have (incomplete), a passworded RAR (password, never
retried), damaged data with too few par2 repair blocks (repair failed)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from hauler.downloads.nzb import Nzb
from hauler.failures.categories import Category
from hauler.failures.classify import classify
from tests.integration.archive_samples import make_rar
from tests.integration.nntp_server import NntpServer
from tests.integration.nzb_builder import Posted, post, render
from tests.integration.nzbget_peer import NzbgetPeer
from tests.integration.recovery_support import wait_for
from tests.integration.sabnzbd_peer import SabnzbdPeer
from tests.integration.services import require_binary

pytestmark = pytest.mark.integration
pytest_plugins = ("tests.integration.usenet_peers",)


def posted_together(news: NntpServer, files: dict[str, bytes]) -> tuple[bytes, list[Posted]]:
    """Post several files and make one NZB of them (as a release with its .par2 files)."""
    parts = [post(news, body, name) for name, body in files.items()]
    nzb = Nzb(files=tuple(f for p in parts for f in p.nzb.files), meta=(("title", "r"),))
    return render(nzb), parts


def sab_add(peer: SabnzbdPeer, xml: bytes, name: str, pp: int = 0) -> str:
    """Add a foreign job (no Hauler tag); ``pp`` 1 asks for repair (SABnzbd's +Repair)."""
    import requests

    query = {"mode": "addfile", "output": "json", "apikey": peer.api_key, "nzbname": name}
    answer = requests.post(
        peer.url,
        params={**query, "pp": str(pp)},
        files={"name": (f"{name}.nzb", xml, "application/x-nzb")},
        timeout=10,
    ).json()
    return str(answer["nzo_ids"][0])


def sab_failed(peer: SabnzbdPeer, nzo_id: str) -> dict[str, Any] | None:
    for slot in peer.api("history")["history"]["slots"]:
        if slot["nzo_id"] == nzo_id and slot["status"] == "Failed":
            return dict(slot)
    return None


@pytest.fixture(scope="module")
def sab(sabnzbd_peer: SabnzbdPeer) -> SabnzbdPeer:
    # abort (2), not pause (1), on an encrypted RAR: sabnzbd/assembler.py:217-228
    sabnzbd_peer.api("set_config", section="misc", keyword="pause_on_pwrar", value="2")
    return sabnzbd_peer


def test_sabnzbd_missing_articles_are_incomplete_and_worth_a_retry(
    sab: SabnzbdPeer, news_server: NntpServer
):
    # given an NZB 7 of whose 9 articles the news server does not have
    xml, (part,) = posted_together(news_server, {"film.mkv": os.urandom(9 * 192 * 1024)})
    for message_id in part.message_ids[2:]:
        news_server.drop(message_id)
    nzo_id = sab_add(sab, xml, "incomplete")
    # when SABnzbd gives up on it
    slot = wait_for("SABnzbd to fail the job", lambda: sab_failed(sab, nzo_id), 60)
    # then its own fail_message (nzbstuff.py:1213) classifies as incomplete, retried
    assert slot["fail_message"].startswith("Aborted, cannot be completed")
    verdict = classify("sabnzbd", slot["status"], slot["fail_message"])
    assert verdict.category is Category.INCOMPLETE and verdict.retry_same


def test_sabnzbd_passworded_rar_is_password_and_never_retried(
    sab: SabnzbdPeer, news_server: NntpServer, tmp_path: Path
):
    # given a RAR made with a password (Debian's rar), posted as a release
    source = tmp_path / "in"
    source.mkdir()
    (source / "film.mkv").write_bytes(os.urandom(200_000))
    archive = make_rar(tmp_path / "film.rar", source, "-psecret", "-m0")
    xml, _ = posted_together(news_server, {"film.rar": archive.read_bytes()})
    nzo_id = sab_add(sab, xml, "passworded")
    # when SABnzbd sees the encryption
    slot = wait_for("SABnzbd to fail the job", lambda: sab_failed(sab, nzo_id), 60)
    # then "Aborted, encryption detected" (assembler.py:228) is a password failure, not retried
    assert slot["fail_message"] == "Aborted, encryption detected"
    verdict = classify("sabnzbd", slot["status"], slot["fail_message"])
    assert verdict.category is Category.PASSWORD and not verdict.retry_same


def test_sabnzbd_damage_beyond_the_par2_blocks_is_repair_failed(
    sab: SabnzbdPeer, news_server: NntpServer, tmp_path: Path
):
    # given data with a par2 set of 2% redundancy, and 5 of its 8 articles corrupted
    data = tmp_path / "film.mkv"
    data.write_bytes(os.urandom(8 * 192 * 1024))
    subprocess.run(
        [require_binary("par2"), "create", "-q", "-r2", "-n1", "-s65536", "film.par2", "film.mkv"],
        cwd=tmp_path,
        check=True,
        capture_output=True,
    )
    files = {p.name: p.read_bytes() for p in sorted(tmp_path.glob("film*"))}
    xml, parts = posted_together(news_server, files)
    data_part = next(p for p in parts if p.nzb.files[0].subject.find("film.mkv") >= 0)
    for message_id in data_part.message_ids[1:6]:
        news_server.corrupt(message_id)
    nzo_id = sab_add(sab, xml, "damaged", pp=1)
    # when SABnzbd verifies and tries to repair
    try:
        slot = wait_for("SABnzbd to fail the job", lambda: sab_failed(sab, nzo_id), 40)
    except AssertionError:
        print(sab.api("history")["history"]["slots"], sab.api("queue")["queue"]["slots"])
        print(sab.log()[-3000:])
        raise
    # then "Repair failed, not enough repair blocks (N short)" (newsunpack.py:1365)
    assert slot["fail_message"].startswith("Repair failed, not enough repair blocks ("), slot
    verdict = classify("sabnzbd", slot["status"], slot["fail_message"])
    assert verdict.category is Category.REPAIR_FAILED and not verdict.retry_same


def test_nzbget_missing_articles_are_failure_health(
    nzbget_peer: NzbgetPeer, news_server: NntpServer
):
    # given an NZB most of whose articles the news server does not have
    xml, (part,) = posted_together(news_server, {"show.mkv": os.urandom(9 * 192 * 1024)})
    for message_id in part.message_ids[1:]:
        news_server.drop(message_id)
    import base64

    client = nzbget_peer.client()
    content = base64.b64encode(xml).decode()
    nzb_id = client.call("append", "health.nzb", content, "", 0, False, False, "", 0, "FORCE")

    def failed() -> dict[str, Any] | None:
        for entry in client.call("history", False):
            if entry["NZBID"] == nzb_id and not str(entry["Status"]).startswith("SUCCESS"):
                return dict(entry)
        return None

    # when NZBGet ends the job
    entry = wait_for("NZBGet to fail the job", failed, 60)
    # then its history Status (DownloadInfo.cpp MakeTextStatus) classifies as incomplete
    details = {k: str(entry[k]) for k in ("ParStatus", "UnpackStatus", "DeleteStatus")}
    verdict = classify("nzbget", entry["Status"], None, details)
    assert entry["Status"] == "FAILURE/HEALTH", entry["Status"]
    assert verdict.category is Category.INCOMPLETE


def test_sabnzbd_pause_resume_and_free_space_work(sab: SabnzbdPeer):
    from hauler.recovery.actions import actions_for

    actions = actions_for(sab.client())
    # the disk-full actions: free space, pause, resume (mode=pause / mode=resume)
    assert (actions.free_bytes() or 0) > 0
    actions.pause()
    assert sab.api("queue")["queue"]["paused"] is True
    actions.resume()
    assert sab.api("queue")["queue"]["paused"] is False


def test_nzbget_retry_failed_puts_the_job_back_and_pause_resume_free_space_work(
    nzbget_peer: NzbgetPeer, news_server: NntpServer
):
    import base64

    from hauler.recovery.actions import actions_for

    # given a job NZBGet failed (FAILURE/HEALTH)
    xml, (part,) = posted_together(news_server, {"back.mkv": os.urandom(9 * 192 * 1024)})
    for message_id in part.message_ids[1:]:
        news_server.drop(message_id)
    client = nzbget_peer.client()
    content = base64.b64encode(xml).decode()
    nzb_id = client.call("append", "back.nzb", content, "", 0, False, False, "", 0, "FORCE")
    in_history = lambda: any(  # noqa: E731
        e["NZBID"] == nzb_id and e["Status"] == "FAILURE/HEALTH"
        for e in client.call("history", False)
    )
    wait_for("NZBGet to fail the job", in_history, 60)
    actions = actions_for(client)
    # when recovery retries it (editqueue HistoryRetryFailed: only the failed articles)
    assert actions.retry(str(nzb_id), category="incomplete") == str(nzb_id)
    # then the same NZBID is downloading again (and, its articles still missing, fails again)
    wait_for(
        "the job back in the queue or failed anew",
        lambda: any(g["NZBID"] == nzb_id for g in client.call("listgroups", 0)) or in_history(),
        30,
    )
    (nzbget_peer.root / "complete").mkdir(exist_ok=True)  # its DestDir, made on first use
    assert (actions.free_bytes() or 0) > 0
    actions.pause()
    assert client.call("status")["DownloadPaused"] is True
    actions.resume()
    assert client.call("status")["DownloadPaused"] is False


def test_a_hauler_download_sabnzbd_fails_is_retried_under_a_new_nzo_id(
    sab: SabnzbdPeer, news_server: NntpServer, nzb_site, hauler_env
):
    import uuid

    from hauler.downloads import fetch as service
    from hauler.downloads.clients.jobs import JobState
    from hauler.recovery import records
    from hauler.recovery.recover import Report, recover
    from hauler.settings import Settings
    from hauler.transfers import handoff, store
    from tests.integration.nzb_builder import publish

    settings = Settings.from_env(
        {
            **hauler_env,
            "HAULER_DOWNLOADS_ALLOW_NETWORKS": "127.0.0.1/32",
            "HAULER_RECOVERY_BACKOFF": "0.1",
        }
    )
    client = sab.client()
    # given a Hauler download handed to SABnzbd whose articles are mostly missing
    link, posted = publish(news_server, nzb_site, os.urandom(9 * 192 * 1024), "hauler.mkv")
    for message_id in posted.message_ids[2:]:
        news_server.drop(message_id)
    task_id = str(uuid.uuid4())
    request = service.validate(settings, link.url, None, None, "sabnzbd", None, None)
    handoff.hand_off(
        settings, request, client, "test", request.link, task_id=task_id,
        correlation_id=task_id, canvas={}, then=[],
    )  # fmt: skip
    url = settings.database_url

    def failed_job():
        row = store.get(url, task_id)
        return next(
            (j for j in client.jobs() if j.job_id == row.job_id and j.state is JobState.FAILED),
            None,
        )

    def report_of(found) -> Report:
        row = store.get(url, task_id)
        return Report(
            found.client, found.job_id, "failed", found.status, found.message,
            dict(found.details), transfer_id=row.id, task_id=task_id,
        )  # fmt: skip

    first = wait_for("SABnzbd to fail the job", failed_job, 60)
    assert first.message.startswith("Aborted, cannot be completed")
    scheduled: list[dict] = []
    # when recovery runs, its retry falls due, and SABnzbd fails the retried job again
    answer = recover(
        settings, report_of(first), lambda kw, *_: scheduled.append(kw), clients=[client]
    )
    assert answer["outcome"] == "scheduled", answer
    retried = recover(settings, Report(**scheduled[0]), lambda *a: None, clients=[client])
    # then SABnzbd's mode=retry gave a new nzo_id, and the transfer follows it
    assert retried["outcome"] == "retrying" and retried["job_id"] != first.job_id
    assert store.get(url, task_id).job_id == retried["job_id"]
    assert store.get(url, task_id).attempts == 2
    # and SABnzbd runs it again under that id (with the articles still missing it then
    # calls it Completed — its quirk; the watch's byte check is what fails it next)
    wait_for(
        "SABnzbd to list the retried job",
        lambda: any(j.job_id == retried["job_id"] for j in client.jobs()),
        30,
    )
    (failure,) = records.recent(url, include_closed=True)
    assert (failure.category, failure.state, failure.strategy) == (
        "incomplete",
        "recovering",
        "retry",
    )
