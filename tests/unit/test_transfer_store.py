"""The transfer store on SQLite: create-or-attach, rebind, claims and finish exactly once."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from hauler.store.downloads_models import Download
from hauler.store.migrate import upgrade
from hauler.transfers import store


@pytest.fixture
def url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'hauler.db'}"
    upgrade(url)
    return url


def new(task_id: str = "t1", job_id: str = "g1") -> store.NewTransfer:
    return store.NewTransfer(
        task_id=task_id,
        client="aria2",
        job_id=job_id,
        tag=f"hauler-{task_id}",
        url="https://x.invalid/a.bin",
        shown="https://x.invalid/a.bin",
        dest="/d",
        workdir="/w",
    )


def download() -> Download:
    return Download(
        task_id="t1",
        url="u",
        client="aria2",
        reason="r",
        path="/d/a.bin",
        bytes=3,
        sha256="0" * 64,
        seconds=1.0,
        finished_at=datetime.now(UTC),
    )


def test_a_second_create_for_the_same_task_attaches_to_the_first(url: str) -> None:
    first, created = store.create(url, new())
    again, created_again = store.create(url, new(job_id="other"))
    assert (created, created_again) == (True, False)
    assert again.id == first.id and again.job_id == "g1"


def test_a_client_side_retry_rebinds_the_job_id_and_counts_an_attempt(url: str) -> None:
    row, _ = store.create(url, new())
    assert store.claim_failure(url, row.id, store.FAILED, "Aborted")
    assert not store.claim_failure(url, row.id, store.FAILED, "Aborted")  # once
    assert store.rebind(url, row.id, "nzo_new")
    found = store.by_job(url, "aria2", "nzo_new")
    assert found is not None and (found.state, found.attempts) == (store.SUBMITTED, 2)
    assert store.by_tag(url, "hauler-t1").id == row.id  # type: ignore[union-attr]


def test_two_passes_that_see_the_same_completion_finish_it_once(url: str) -> None:
    row, _ = store.create(url, new())
    assert store.claim_finish(url, row.id, lease=60)
    assert not store.claim_finish(url, row.id, lease=60)  # the other pass: taken
    assert store.claim_finish(url, row.id, lease=0)  # a claim past its lease is taken over
    result = store.finish(url, row.id, {"path": "/d/a.bin"}, download())
    assert result is not None and result["download_id"] >= 1
    assert store.finish(url, row.id, {"path": "/d/a.bin"}, download()) is None
    assert not store.give_up(url, row.id, "too late")
    done = store.get(url, "t1")
    assert done is not None and done.state == store.DONE and done.delivered_at is None
    assert [r.id for r in store.undelivered(url)] == [row.id]
    store.delivered(url, row.id)
    assert store.undelivered(url) == []
    assert store.counts(url) == {("aria2", store.DONE): 1}
