"""Validation of the media tasks' arguments: every problem names its argument."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hauler.errors import InvalidArgument
from hauler.paths import file_under_roots
from hauler.settings import Settings

FORMATS = ("jpeg", "png", "webp")


def media_path(settings: Settings, value: Any) -> Path:
    """An existing, non-empty regular file under an allowed root."""
    roots = settings.media.roots or (settings.data_dir.resolve(), settings.download_dir.resolve())
    path = file_under_roots(value, roots, "HAULER_MEDIA_ROOTS")
    if path.stat().st_size == 0:
        raise InvalidArgument("path", f"file is empty: {path}")
    return path


def whole(name: str, value: Any, low: int, high: int) -> int:
    """A whole number in ``[low, high]``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidArgument(name, f"must be a whole number, got {type(value).__name__}")
    if not low <= value <= high:
        raise InvalidArgument(name, f"must be between {low} and {high}, got {value}")
    return value


def image_format(value: Any) -> str:
    """One of jpeg, png, webp (``jpg`` is accepted for jpeg)."""
    fmt = value.lower() if isinstance(value, str) else value
    fmt = "jpeg" if fmt == "jpg" else fmt
    if fmt not in FORMATS:
        raise InvalidArgument("fmt", f"must be one of {', '.join(FORMATS)}, got {value!r}")
    return str(fmt)
