"""WebVTT thumbnail tracks: one cue per tile, ``sprite.jpg#xywh=x,y,w,h``."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Cue:
    """One tile of the sprite and the time range it previews."""

    start: float
    end: float
    x: int
    y: int
    width: int
    height: int


def cues(duration: float, cols: int, rows: int, tile_width: int, tile_height: int) -> list[Cue]:
    """Evenly spaced cues covering ``[0, duration)``, tiles in reading order."""
    count = cols * rows
    step = duration / count
    return [
        Cue(
            start=i * step,
            end=duration if i == count - 1 else (i + 1) * step,
            x=(i % cols) * tile_width,
            y=(i // cols) * tile_height,
            width=tile_width,
            height=tile_height,
        )
        for i in range(count)
    ]


def timestamp(seconds: float) -> str:
    """``HH:MM:SS.mmm`` as WebVTT wants it."""
    millis = round(seconds * 1000)
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}.{millis:03d}"


def render(cue_list: list[Cue], sprite_name: str) -> str:
    """The WebVTT document for ``cue_list``, pointing at ``sprite_name`` (a relative URL)."""
    blocks = ["WEBVTT", ""]
    for cue in cue_list:
        blocks.append(f"{timestamp(cue.start)} --> {timestamp(cue.end)}")
        blocks.append(f"{sprite_name}#xywh={cue.x},{cue.y},{cue.width},{cue.height}")
        blocks.append("")
    return "\n".join(blocks)
