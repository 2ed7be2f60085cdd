"""Tasks of the ``media`` queue: thumbnails, video sprite sheets and media descriptions."""

from __future__ import annotations

from typing import Any

from hauler.media import service
from hauler.settings import get_settings
from tasks._ping import queue_ping
from workers.base import hauler_task

ping = queue_ping("media")


@hauler_task("media.thumbnail")
def thumbnail(
    path: str, *, width: int = 320, height: int | None = None, fmt: str = "jpeg"
) -> dict[str, Any]:
    """A thumbnail of an image or video file; returns its path, size and cache status."""
    return service.thumbnail(get_settings(), path, width=width, height=height, fmt=fmt)


@hauler_task("media.sprite")
def sprite(
    path: str, *, cols: int = 4, rows: int = 4, width: int = 160, fmt: str = "jpeg"
) -> dict[str, Any]:
    """A sprite sheet of a video plus its WebVTT index; returns their paths and geometry."""
    return service.sprite(get_settings(), path, cols=cols, rows=rows, width=width, fmt=fmt)


@hauler_task("media.info")
def info(path: str) -> dict[str, Any]:
    """What a media file holds: container, duration, bitrate and streams (or an image's facts)."""
    return service.info(get_settings(), path)
