"""WebVTT cues, thumbnail geometry, fingerprints and argument checks of the media tasks."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from hauler.errors import InvalidArgument
from hauler.media import inputs
from hauler.media.fingerprint import fingerprint
from hauler.media.images import fit
from hauler.media.webvtt import cues, render, timestamp
from hauler.settings import Settings


def test_cues_cover_the_duration_in_reading_order():
    made = cues(600.0, cols=4, rows=4, tile_width=160, tile_height=90)
    assert len(made) == 16
    assert (made[0].start, made[0].end) == (0.0, 37.5)
    assert made[-1].end == 600.0
    assert (made[5].x, made[5].y) == (160, 90)
    assert all(a.end == b.start for a, b in itertools.pairwise(made))


def test_webvtt_document():
    text = render(cues(10.0, 2, 1, 100, 50), "sprite.jpg")
    assert text.splitlines() == [
        "WEBVTT",
        "",
        "00:00:00.000 --> 00:00:05.000",
        "sprite.jpg#xywh=0,0,100,50",
        "",
        "00:00:05.000 --> 00:00:10.000",
        "sprite.jpg#xywh=100,0,100,50",
    ]
    assert text.endswith("\n")


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "00:00:00.000"), (61.5, "00:01:01.500"), (3723.004, "01:02:03.004")],
)
def test_timestamps(seconds, text):
    assert timestamp(seconds) == text


def test_fit_keeps_the_aspect_within_the_box():
    assert fit((1920, 1080), 320, None) == (320, 180)
    assert fit((1080, 1920), 320, 320) == (180, 320)
    assert fit((100, 100), 320, None) == (320, 320)


def test_small_files_are_hashed_whole_and_large_ones_sampled(tmp_path: Path):
    small = tmp_path / "small"
    small.write_bytes(b"a" * 1000)
    assert fingerprint(small, full_hash_limit=10_000).startswith("sha256:")
    big = tmp_path / "big"
    big.write_bytes(b"b" * 20_000_000)
    fast = fingerprint(big, full_hash_limit=1_000_000)
    assert fast.startswith("fast:")
    with big.open("r+b") as handle:  # an edit in the middle window changes it
        handle.seek(10_000_000)
        handle.write(b"X")
    assert fingerprint(big, full_hash_limit=1_000_000) != fast


def test_inputs_name_the_bad_argument(tmp_path: Path):
    settings = Settings.from_env({"HAULER_DATA_DIR": str(tmp_path)})
    with pytest.raises(InvalidArgument, match="outside the allowed roots"):
        inputs.media_path(settings, "/etc/hostname")
    with pytest.raises(InvalidArgument) as caught:
        inputs.whole("cols", 2.5, 1, 20)
    assert caught.value.argument == "cols"
    assert inputs.image_format("JPG") == "jpeg"
    with pytest.raises(InvalidArgument, match="'fmt'"):
        inputs.image_format("tiff")
