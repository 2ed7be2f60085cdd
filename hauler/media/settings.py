"""Settings of the media tasks (``HAULER_MEDIA_…``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Self

from hauler.env import EnvReader


@dataclass(frozen=True)
class MediaSettings:
    """How thumbnails and sprites are made and cached."""

    ffmpeg: str = ""  # ffmpeg binary; empty = Debian's on PATH, else imageio-ffmpeg's
    ffprobe: str = ""  # ffprobe binary; empty = on PATH (optional: ffmpeg -i is the fallback)
    cache_dir: Path | None = None  # where outputs live; None = <data dir>/media-cache
    cache_ttl_seconds: int = 7 * 86400  # cache entries older than this are expired
    roots: tuple[Path, ...] = ()  # inputs must lie under one of these; () = data + download dir
    max_pixels: int = 100_000_000  # larger images are refused as decompression bombs
    sprite_max_pixels: int = 16_000_000  # larger sprite sheets are refused (cols x rows x tile)
    full_hash_limit: int = 64 * 1024 * 1024  # files up to this size are hashed whole
    tile_workers: int = 0  # parallel ffmpeg seeks for sprites; 0 = number of CPUs
    command_timeout: int = 120  # seconds any one ffmpeg/ffprobe run may take

    @classmethod
    def from_env(cls, reader: EnvReader) -> Self:
        roots = reader.text("HAULER_MEDIA_ROOTS", "")
        cache_dir = reader.text("HAULER_MEDIA_CACHE_DIR", "")
        return cls(
            ffmpeg=reader.text("HAULER_MEDIA_FFMPEG", ""),
            ffprobe=reader.text("HAULER_MEDIA_FFPROBE", ""),
            cache_dir=Path(cache_dir) if cache_dir else None,
            cache_ttl_seconds=reader.integer("HAULER_MEDIA_CACHE_TTL", 7 * 86400, minimum=60),
            roots=tuple(Path(r).expanduser().resolve() for r in roots.split(":") if r.strip()),
            max_pixels=reader.integer("HAULER_MEDIA_MAX_PIXELS", 100_000_000, minimum=1),
            sprite_max_pixels=reader.integer(
                "HAULER_MEDIA_SPRITE_MAX_PIXELS", 16_000_000, minimum=1
            ),
            full_hash_limit=reader.integer(
                "HAULER_MEDIA_FULL_HASH_LIMIT", 64 * 1024 * 1024, minimum=0
            ),
            tile_workers=reader.integer("HAULER_MEDIA_TILE_WORKERS", 0, minimum=0),
            command_timeout=reader.integer("HAULER_MEDIA_COMMAND_TIMEOUT", 120, minimum=1),
        )
