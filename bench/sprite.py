"""Hauler's sprite sheet vs the plain ffmpeg one-liner, on a 10-minute 720p H.264 video.

Baseline: ``ffmpeg -i in.mp4 -vf fps=16/600,scale=160:-1,tile=4x4 -frames:v 1 out.jpg``,
which decodes the whole video. Hauler seeks before the input for each of the 16 tiles
and decodes one frame per tile, in parallel. Prints both wall times, the ratio
(target: Hauler <= 0.15 of the one-liner) and the time of a cache hit. Then media.info
against a bare ``ffprobe -print_format json -show_format -show_streams`` of the same
file: a miss (fingerprint, ffprobe, cache write) and a hit, best of 5 (target <= 1.3).

    python bench/sprite.py [--minutes 10] [--redis redis://127.0.0.1:6379/15]

The test video is generated once (ffmpeg testsrc2, libx264 preset fast) and kept in
``bench/.cache/``.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def make_video(ffmpeg: str, minutes: int) -> Path:
    cache = ROOT / "bench" / ".cache"
    cache.mkdir(parents=True, exist_ok=True)
    video = cache / f"testsrc2-720p-{minutes}min.mp4"
    if not video.exists():
        print(f"generating {video.name} (once) ...", flush=True)
        partial = video.with_suffix(".part.mp4")
        subprocess.run(
            [
                ffmpeg,
                "-v",
                "error",
                "-y",
                "-f",
                "lavfi",
                "-i",
                f"testsrc2=size=1280x720:rate=25:duration={minutes * 60}",
                "-c:v",
                "libx264",
                "-preset",
                "fast",
                "-pix_fmt",
                "yuv420p",
                str(partial),
            ],
            check=True,
        )
        partial.rename(video)
    return video


def one_liner(ffmpeg: str, video: Path, out: Path) -> float:
    start = time.perf_counter()
    subprocess.run(
        [
            ffmpeg,
            "-v",
            "error",
            "-y",
            "-i",
            str(video),
            "-vf",
            "fps=16/600,scale=160:-1,tile=4x4",
            "-frames:v",
            "1",
            str(out),
        ],
        check=True,
    )
    return time.perf_counter() - start


def bench_info(settings: Any, video: Path) -> None:
    """media.info (a miss, then hits) against a bare ffprobe call, best of 5 each."""
    from hauler.media import cache, service

    ffprobe = shutil.which("ffprobe") or sys.exit("ffprobe is required")
    argv = [ffprobe, "-v", "error", "-print_format", "json", "-show_format", "-show_streams"]
    bare, miss, hit = [], [], []
    for _ in range(5):
        start = time.perf_counter()
        subprocess.run([*argv, str(video)], check=True, capture_output=True)
        bare.append(time.perf_counter() - start)
        cache.invalidate(settings, video)
        start = time.perf_counter()
        assert not service.info(settings, str(video))["cached"]
        miss.append(time.perf_counter() - start)
        start = time.perf_counter()
        assert service.info(settings, str(video))["cached"]
        hit.append(time.perf_counter() - start)
    print(f"bare ffprobe       : {min(bare) * 1000:7.1f} ms")
    print(f"media.info (miss)  : {min(miss) * 1000:7.1f} ms  ratio {min(miss) / min(bare):.2f}")
    print(f"media.info (hit)   : {min(hit) * 1000:7.1f} ms  ratio {min(hit) / min(bare):.2f}")
    print("(target <= 1.3)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=int, default=10)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/15")
    options = parser.parse_args()
    import redis

    from hauler.media import service
    from hauler.settings import Settings
    from hauler.store.migrate import upgrade

    ffmpeg = shutil.which("ffmpeg") or sys.exit("ffmpeg is required")
    video = make_video(ffmpeg, options.minutes)
    work = Path(tempfile.mkdtemp(prefix="hauler-bench-sprite-"))
    redis.Redis.from_url(options.redis).flushdb()
    database = f"sqlite:///{work}/hauler.db"
    upgrade(database)
    settings = Settings.from_env(
        {
            "HAULER_BROKER_URL": options.redis,
            "HAULER_DATABASE_URL": database,
            "HAULER_DATA_DIR": str(work),
            "HAULER_MEDIA_ROOTS": f"{video.parent}:{work}",
        }
    )
    baseline = one_liner(ffmpeg, video, work / "one-liner.jpg")
    start = time.perf_counter()
    made = service.sprite(settings, str(video), cols=4, rows=4, width=160)
    hauler = time.perf_counter() - start
    start = time.perf_counter()
    hit = service.sprite(settings, str(video), cols=4, rows=4, width=160)
    cached = time.perf_counter() - start
    assert not made["cached"] and hit["cached"]
    print(f"video              : {video.name}")
    print(f"ffmpeg one-liner   : {baseline:7.2f} s (decodes the whole video)")
    print(f"Hauler sprite      : {hauler:7.2f} s (16 seeks, one frame each, in parallel)")
    print(f"Hauler cache hit   : {cached * 1000:7.1f} ms")
    print(f"ratio Hauler / one-liner: {hauler / baseline:.3f}  (target <= 0.15)")
    bench_info(settings, video)
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
