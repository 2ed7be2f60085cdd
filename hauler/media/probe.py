"""What a media file is: its kind, duration and size, from ffprobe (or ``ffmpeg -i``)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from hauler.errors import InvalidArgument
from hauler.media.tools import Tools, last_error_line, run

IMAGE_CODECS = {"mjpeg", "png", "webp", "gif", "bmp", "tiff", "jpegls", "jpeg2000"}
_DURATION = re.compile(rb"Duration: (\d+):(\d+):(\d+(?:\.\d+)?)")
_VIDEO = re.compile(rb"Stream #\S+.*?: Video: (\w+).*?, (\d{2,5})x(\d{2,5})")


@dataclass(frozen=True)
class MediaInfo:
    """The facts the media tasks need about an input file."""

    kind: str  # "video" or "image"
    duration: float  # seconds; 0 for images
    width: int
    height: int
    codec: str


def probe(tools: Tools, path: Path, timeout: float) -> MediaInfo:
    """Describe ``path``.

    Raises:
        InvalidArgument: ``path`` is not a media file ffmpeg can read.
    """
    if tools.ffprobe:
        return _ffprobe(tools.ffprobe, path, timeout)
    return _ffmpeg_i(tools.ffmpeg, path, timeout)


def _ffprobe(ffprobe: str, path: Path, timeout: float) -> MediaInfo:
    argv = [
        ffprobe,
        "-v",
        "error",
        "-select_streams",
        "v:0",
        "-show_entries",
        "stream=codec_name,width,height,duration:format=duration,format_name",
        "-of",
        "json",
        str(path),
    ]
    done = run(argv, timeout)
    if done.returncode != 0:
        raise InvalidArgument(
            "path", f"not a media file ffmpeg can read ({last_error_line(done.stderr)})"
        )
    data = json.loads(done.stdout or b"{}")
    streams = data.get("streams") or []
    if not streams or not streams[0].get("width"):
        raise InvalidArgument("path", "has no video or image stream")
    stream = streams[0]
    codec = str(stream.get("codec_name", "?"))
    duration = _float(stream.get("duration")) or _float(data.get("format", {}).get("duration"))
    kind = "image" if codec in IMAGE_CODECS and duration <= 0.1 else "video"
    return MediaInfo(
        kind,
        duration if kind == "video" else 0.0,
        int(stream["width"]),
        int(stream["height"]),
        codec,
    )


def _ffmpeg_i(ffmpeg: str, path: Path, timeout: float) -> MediaInfo:
    done = run([ffmpeg, "-hide_banner", "-i", str(path)], timeout)
    video = _VIDEO.search(done.stderr)
    if video is None:
        raise InvalidArgument(
            "path", f"not a media file ffmpeg can read ({last_error_line(done.stderr)})"
        )
    codec = video.group(1).decode()
    match = _DURATION.search(done.stderr)
    duration = 0.0
    if match:
        hours, minutes, seconds = match.groups()
        duration = int(hours) * 3600 + int(minutes) * 60 + float(seconds)
    kind = "image" if codec in IMAGE_CODECS and duration <= 0.1 else "video"
    return MediaInfo(
        kind, duration if kind == "video" else 0.0, int(video.group(2)), int(video.group(3)), codec
    )


def _float(value: object) -> float:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return 0.0
