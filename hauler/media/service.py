"""Thumbnails and sprites as plain functions: validate, look in the cache, make once."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from PIL import Image

from hauler import broker
from hauler.errors import InvalidArgument
from hauler.media import cache, inputs
from hauler.media.fingerprint import fingerprint
from hauler.media.frames import grab, grab_many
from hauler.media.images import open_checked, save, still_image, thumbnail_image
from hauler.media.info import probe_streams
from hauler.media.info import still as describe_still
from hauler.media.probe import MediaInfo, probe
from hauler.media.tools import Tools, find_tools
from hauler.media.webvtt import cues, render
from hauler.settings import Settings

ToolsFn = Callable[[], Tools]  # ffmpeg is looked for only when a video needs it
Maker = Callable[[ToolsFn, Path, MediaInfo, Path], dict[str, Any]]
Produce = Callable[[Path], dict[str, Any]]  # writes its files into the given work dir
THUMBNAIL_AT = 0.10  # a video's thumbnail is its frame at 10 % of the duration
EXTENSIONS = {"jpeg": "jpg", "png": "png", "webp": "webp"}


def thumbnail(
    settings: Settings, path: Any, *, width: Any = 320, height: Any = None, fmt: Any = "jpeg"
) -> dict[str, Any]:
    """A thumbnail of an image or a video, at most ``width`` x ``height``, aspect kept.

    Returns:
        ``{"path", "width", "height", "format", "kind", "key", "cached"}``.
    """
    source = inputs.media_path(settings, path)
    params: dict[str, Any] = {
        "width": inputs.whole("width", width, 16, 4096),
        "height": None if height is None else inputs.whole("height", height, 16, 4096),
        "fmt": inputs.image_format(fmt),
    }

    def make(tools: ToolsFn, src: Path, info: MediaInfo, out: Path) -> dict[str, Any]:
        name = f"thumbnail.{EXTENSIONS[params['fmt']]}"
        if info.kind == "image":
            with open_checked(src, settings.media.max_pixels) as image:
                size = thumbnail_image(
                    image, out / name, params["width"], params["height"], params["fmt"]
                )
        else:
            at = info.duration * THUMBNAIL_AT
            frame = grab(tools(), src, at, params["width"], settings.media.command_timeout)
            frame = _cap_height(frame, params["height"])
            save(frame, out / name, params["fmt"])
            size = frame.size
        return {
            "path": name,
            "width": size[0],
            "height": size[1],
            "format": params["fmt"],
            "kind": info.kind,
        }

    return _cached(settings, "thumbnail", source, params, _inspected(settings, source, make))


def sprite(
    settings: Settings,
    path: Any,
    *,
    cols: Any = 4,
    rows: Any = 4,
    width: Any = 160,
    fmt: Any = "jpeg",
) -> dict[str, Any]:
    """A cols x rows sprite of frames evenly spaced over a video, and its WebVTT index.

    Tile ``i`` previews ``[i*d/n, (i+1)*d/n)`` and shows the keyframe at or just before
    the middle of that range; each is one seek and one decoded frame.

    Returns:
        ``{"sprite", "vtt", "cols", "rows", "tile_width", "tile_height", "interval",
        "duration", "key", "cached"}``.
    """
    source = inputs.media_path(settings, path)
    params: dict[str, Any] = {
        "cols": inputs.whole("cols", cols, 1, 20),
        "rows": inputs.whole("rows", rows, 1, 20),
        "width": inputs.whole("width", width, 16, 1024),
        "fmt": inputs.image_format(fmt),
    }

    def make(tools: ToolsFn, src: Path, info: MediaInfo, out: Path) -> dict[str, Any]:
        if info.kind != "video" or info.duration <= 0:
            raise InvalidArgument("path", f"a sprite needs a video; this is a {info.codec} image")
        cols, rows = params["cols"], params["rows"]
        check_sprite_size(info, cols, rows, params["width"], settings.media.sprite_max_pixels)
        step = info.duration / (cols * rows)
        times = [(i + 0.5) * step for i in range(cols * rows)]
        frames = grab_many(
            tools(),
            src,
            times,
            params["width"],
            settings.media.command_timeout,
            settings.media.tile_workers,
        )
        name = f"sprite.{EXTENSIONS[params['fmt']]}"
        tile_w, tile_h = _tile(frames, cols, rows, out / name, params["fmt"])
        track = render(cues(info.duration, cols, rows, tile_w, tile_h), name)
        (out / "sprite.vtt").write_text(track)
        return {
            "sprite": name,
            "vtt": "sprite.vtt",
            "cols": cols,
            "rows": rows,
            "tile_width": tile_w,
            "tile_height": tile_h,
            "interval": step,
            "duration": info.duration,
        }

    return _cached(settings, "sprite", source, params, _inspected(settings, source, make))


def check_sprite_size(info: MediaInfo, cols: int, rows: int, width: int, limit: int) -> None:
    """Refuse a sprite sheet above ``limit`` pixels before any frame is grabbed.

    Raises:
        InvalidArgument: naming the argument to lower — ``width`` when the tiles are wider
            than the default 160, else the larger of ``cols`` and ``rows``.
    """
    tile_h = max(2, round(width * info.height / max(info.width, 1) / 2) * 2)  # scale=W:-2
    sheet_w, sheet_h = cols * width, rows * tile_h
    if sheet_w * sheet_h <= limit:
        return
    argument = "width" if width > 160 else ("cols" if cols >= rows else "rows")
    raise InvalidArgument(
        argument,
        f"the sprite would be {sheet_w}x{sheet_h} = {sheet_w * sheet_h / 1e6:.1f} Mpx, above "
        f"the {limit / 1e6:g} Mpx limit (HAULER_MEDIA_SPRITE_MAX_PIXELS); lower {argument}",
    )


def _cap_height(frame: Image.Image, height: int | None) -> Image.Image:
    if height is None or frame.height <= height:
        return frame
    return frame.resize((max(1, round(frame.width * height / frame.height)), height))


def _tile(frames: list[Image.Image], cols: int, rows: int, out: Path, fmt: str) -> tuple[int, int]:
    """Paste ``frames`` into a cols x rows grid saved at ``out``; return the tile size."""
    tile_w, tile_h = frames[0].size
    sheet = Image.new("RGB", (tile_w * cols, tile_h * rows))
    for i, frame in enumerate(frames):
        if frame.size != (tile_w, tile_h):
            frame = frame.resize((tile_w, tile_h))
        sheet.paste(frame, ((i % cols) * tile_w, (i // cols) * tile_h))
    save(sheet, out, fmt)
    return tile_w, tile_h


def info(settings: Settings, path: Any) -> dict[str, Any]:
    """What a media file holds: ffprobe's container and streams, or Pillow's view of a still.

    Returns:
        For audio and video: ``{"kind", "container", "duration", "size", "bit_rate",
        "title", "streams": [...], "key", "cached"}``; for a still image: ``{"kind":
        "image", "container", "size", "width", "height", "mode", "orientation", "key",
        "cached"}``.
    """
    source = inputs.media_path(settings, path)

    def produce(out: Path) -> dict[str, Any]:
        size = source.stat().st_size
        if still_image(source, settings.media.max_pixels) is not None:
            with open_checked(source, settings.media.max_pixels) as image:
                return describe_still(image, size)
        tools = find_tools(settings.media)
        return probe_streams(tools, source, settings.media.command_timeout)

    return _cached(settings, "info", source, {}, produce)


def _inspected(settings: Settings, source: Path, make: Maker) -> Produce:
    """``make`` given what the input is (Pillow for stills, else ffprobe) and ffmpeg lazily."""

    def produce(out: Path) -> dict[str, Any]:
        media = still_image(source, settings.media.max_pixels) or probe(
            find_tools(settings.media), source, settings.media.command_timeout
        )
        return make(lambda: find_tools(settings.media), source, media, out)

    return produce


def _cached(
    settings: Settings, kind: str, source: Path, params: dict[str, Any], make: Produce
) -> dict[str, Any]:
    """Return the cached result, or make it once even under concurrent requests."""
    client = broker.shared(settings.broker_url)
    content = fingerprint(source, settings.media.full_hash_limit)
    key = cache.cache_key(kind, content, params)
    found = cache.lookup(settings, client, key, datetime.now(UTC))
    if found is not None:
        return {**found, "key": key}
    limit = settings.queues["media"].soft_time_limit
    with client.lock(f"hauler:media:lock:{key}", timeout=limit + 60, blocking_timeout=limit):
        found = cache.lookup(settings, client, key, datetime.now(UTC))
        if found is not None:  # made meanwhile by the request that held the lock
            return {**found, "key": key}
        cache.count_miss(client)
        root = cache.cache_root(settings)
        root.mkdir(parents=True, exist_ok=True)
        workdir = Path(tempfile.mkdtemp(prefix=f".{kind}-", dir=root))
        try:
            result = make(workdir)
            stored = cache.store(
                settings,
                key=key,
                kind=kind,
                source=source,
                fingerprint=content,
                params=params,
                made_in=workdir,
                result=result,
                now=datetime.now(UTC),
            )
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
    return {**stored, "key": key}
