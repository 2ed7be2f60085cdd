"""Grab single video frames by seeking before the input: never a decode of the whole video."""

from __future__ import annotations

import io
import os
import subprocess
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from PIL import Image

from hauler.errors import PermanentError
from hauler.media.tools import Tools, last_error_line, run


class CorruptMedia(PermanentError):
    """Raised when a video has no decodable frame where its header says there should be one."""


def grab(
    tools: Tools,
    path: Path,
    at: float,
    width: int,
    timeout: float,
    running: set[subprocess.Popen[bytes]] | None = None,
) -> Image.Image:
    """The frame at (or at the keyframe just before) ``at`` seconds, ``width`` pixels wide.

    ``-ss`` before ``-i`` makes ffmpeg seek in the container; ``-noaccurate_seek`` keeps
    the frame it lands on instead of decoding forward to ``at``, and ``-skip_frame nokey``
    makes the decoder drop everything but keyframes, so one frame is decoded. A stream
    with no keyframe flags there is retried without the skip.

    Raises:
        CorruptMedia: no frame could be decoded there (truncated or corrupt input).
    """
    done = run(_argv(tools, path, at, width, keyframes_only=True), timeout, running)
    if done.returncode != 0 or not done.stdout:
        done = run(_argv(tools, path, at, width, keyframes_only=False), timeout, running)
    if done.returncode != 0 or not done.stdout:
        raise CorruptMedia(
            f"no frame could be decoded at {at:.2f}s of {path.name} "
            f"(corrupt or truncated? {last_error_line(done.stderr)})"
        )
    image = Image.open(io.BytesIO(done.stdout))
    image.load()
    return image.convert("RGB")


def _argv(tools: Tools, path: Path, at: float, width: int, *, keyframes_only: bool) -> list[str]:
    skip = ["-skip_frame", "nokey"] if keyframes_only else []
    return [
        tools.ffmpeg,
        "-v",
        "error",
        "-threads",
        "1",
        *skip,
        "-noaccurate_seek",
        "-ss",
        f"{max(at, 0.0):.3f}",
        "-i",
        str(path),
        "-frames:v",
        "1",
        "-an",
        "-sn",
        "-vf",
        f"scale={width}:-2",
        "-f",
        "image2pipe",
        "-vcodec",
        "ppm",
        "-",
    ]


def grab_many(
    tools: Tools,
    path: Path,
    times: Sequence[float],
    width: int,
    timeout: float,
    workers: int = 0,
) -> list[Image.Image]:
    """Frames at each of ``times``, grabbed in parallel; every child killed on failure."""
    running: set[subprocess.Popen[bytes]] = set()
    pool = ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 2)
    futures = []
    try:
        futures = [pool.submit(grab, tools, path, t, width, timeout, running) for t in times]
        return [future.result() for future in futures]
    except BaseException:
        for future in futures:
            future.cancel()
        for process in list(running):
            process.kill()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
