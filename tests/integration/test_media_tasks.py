"""media.thumbnail and media.sprite through a real worker: once per key, bad input dead-lettered."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis
from celery import Celery

from hauler import deadletter
from hauler.media.cache import HITS_KEY, MISSES_KEY
from tests.integration.media_samples import colour_video
from tests.integration.services import require_binary, wait_for

pytestmark = pytest.mark.integration


def test_two_concurrent_requests_for_one_key_generate_once(
    start_worker,
    hauler_env: dict[str, str],
    client_app: Celery,
    tmp_path: Path,
    redis_url: str,
    pg_url: str,
):
    # given a media worker with two processes and a video
    video = colour_video(require_binary("ffmpeg"), tmp_path / "clip.mp4", "h264.mp4", segment=3.0)
    hauler_env["HAULER_MEDIA_ROOTS"] = str(tmp_path)
    worker = start_worker(["media"], concurrency=2)
    # when two identical sprite requests arrive together
    first, second = (
        client_app.send_task(
            "media.sprite", args=[str(video)], kwargs={"cols": 4, "rows": 2}, queue="media"
        )
        for _ in range(2)
    )
    results = [first.get(timeout=120), second.get(timeout=120)]
    # then one generated it and the other got the same files from the cache
    assert sorted(r["cached"] for r in results) == [False, True]
    assert results[0]["sprite"] == results[1]["sprite"] and Path(results[0]["vtt"]).exists()
    client = redis.Redis.from_url(redis_url)
    assert (int(client.get(MISSES_KEY) or 0), int(client.get(HITS_KEY) or 0)) == (1, 1)
    # and a file that is no video fails at once, is dead-lettered, and the worker lives on
    bogus = tmp_path / "bogus.mp4"
    bogus.write_bytes(b"\x00garbage" * 1000)
    failed = client_app.send_task("media.sprite", args=[str(bogus)], queue="media")
    with pytest.raises(Exception, match="invalid argument 'path'"):
        failed.get(timeout=60)
    letter = wait_for(lambda: deadletter.get(pg_url, failed.id))
    assert (letter.reason, letter.attempts) == ("permanent", 1)
    thumb = client_app.send_task("media.thumbnail", args=[str(video)], queue="media")
    assert thumb.get(timeout=60)["kind"] == "video"
    info = client_app.send_task("media.info", args=[str(video)], queue="media").get(timeout=60)
    assert (info["kind"], info["streams"][0]["codec"]) == ("video", "h264")
    assert worker.process.poll() is None
