"""What a media file holds, for ``media.info``: ffprobe's streams, or Pillow's view of a still."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path
from typing import Any

from PIL import ExifTags, Image

from hauler.errors import ConfigurationError, InvalidArgument
from hauler.media.tools import Tools, last_error_line, run

HDR_TRANSFERS = {"smpte2084": "PQ", "arib-std-b67": "HLG"}  # HDR10/Dolby Vision, HLG
ORIENTATION = ExifTags.Base.Orientation.value


def probe_streams(tools: Tools, path: Path, timeout: float) -> dict[str, Any]:
    """``ffprobe -print_format json -show_format -show_streams`` of ``path``, summarised.

    Returns:
        ``{"kind", "container", "duration", "size", "bit_rate", "title", "streams": [...]}``.

    Raises:
        InvalidArgument: not a media file ffprobe can read, or one with no streams.
        ConfigurationError: no ffprobe.
    """
    if not tools.ffprobe:
        raise ConfigurationError(
            ["ffprobe not found: install Debian's ffmpeg or set HAULER_MEDIA_FFPROBE"]
        )
    argv = [tools.ffprobe, "-v", "error", "-print_format", "json", "-show_format", "-show_streams"]
    done = run([*argv, str(path)], timeout)
    if done.returncode != 0:
        raise InvalidArgument(
            "path", f"not a media file ffprobe can read ({last_error_line(done.stderr)})"
        )
    data = json.loads(done.stdout or b"{}")
    streams = [_stream(s) for s in data.get("streams") or []]
    if not streams:
        raise InvalidArgument("path", "has no audio, video or image stream")
    fmt = data.get("format") or {}
    types = {s["type"] for s in streams}
    return {
        "kind": "video" if "video" in types else "audio" if "audio" in types else "other",
        "container": fmt.get("format_name"),
        "duration": _number(fmt.get("duration"), float),
        "size": _number(fmt.get("size"), int),
        "bit_rate": _number(fmt.get("bit_rate"), int),
        "title": (fmt.get("tags") or {}).get("title"),
        "streams": streams,
    }


def _stream(raw: dict[str, Any]) -> dict[str, Any]:
    """One stream: its codec and, by type, the picture or the sound it carries."""
    tags = raw.get("tags") or {}
    kind = raw.get("codec_type", "data")
    stream: dict[str, Any] = {
        "index": raw.get("index"),
        "type": kind,
        "codec": raw.get("codec_name"),
        "profile": raw.get("profile"),
        "bit_rate": _number(raw.get("bit_rate"), int),
        "language": tags.get("language"),
        "title": tags.get("title"),
    }
    if kind == "video":
        transfer = raw.get("color_transfer")
        stream |= {
            "width": raw.get("width"),
            "height": raw.get("height"),
            "frame_rate": _rate(raw.get("avg_frame_rate")) or _rate(raw.get("r_frame_rate")),
            "pix_fmt": raw.get("pix_fmt"),
            "color_transfer": transfer,
            "color_primaries": raw.get("color_primaries"),
            "hdr": HDR_TRANSFERS.get(transfer or ""),
        }
    elif kind == "audio":
        stream |= {
            "channels": raw.get("channels"),
            "channel_layout": raw.get("channel_layout"),
            "sample_rate": _number(raw.get("sample_rate"), int),
        }
    return stream


def still(image: Image.Image, size: int) -> dict[str, Any]:
    """A still image as Pillow reads it (header only): format, size, mode, EXIF orientation."""
    orientation = image.getexif().get(ORIENTATION)
    return {
        "kind": "image",
        "container": (image.format or "").lower(),
        "size": size,
        "width": image.width,
        "height": image.height,
        "mode": image.mode,
        "orientation": int(orientation) if orientation else None,
    }


def _rate(value: Any) -> float | None:
    """ffprobe's "30000/1001" as 29.97; None for "0/0"."""
    try:
        rate = Fraction(str(value))
    except (ValueError, ZeroDivisionError):
        return None
    return round(float(rate), 3) if rate else None


def _number(value: Any, kind: type[int] | type[float]) -> Any:
    try:
        return kind(float(value)) if kind is int else kind(value)
    except (TypeError, ValueError):
        return None
