"""Thumbnails and sprites made by the real ffmpeg, cached, and refused on bad input."""

from __future__ import annotations

import dataclasses
import re
import time
from pathlib import Path

import pytest
from PIL import Image

from hauler.errors import InvalidArgument, PermanentError
from hauler.media import cache, service
from hauler.settings import Settings
from hauler.store.migrate import upgrade
from tests.integration.media_samples import (
    CODECS,
    COLOURS,
    close_to,
    colour_video,
    dominant,
    hdr_sample,
    oriented_jpeg,
    png_bomb,
    truncated,
)
from tests.integration.services import require_binary

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def ffmpeg() -> str:
    require_binary("ffprobe")
    return require_binary("ffmpeg")


@pytest.fixture(scope="module")
def videos(ffmpeg: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("videos")
    return {codec: colour_video(ffmpeg, folder / f"colours.{codec}", codec) for codec in CODECS}


@pytest.fixture
def settings(tmp_path: Path, redis_url: str, videos: dict[str, Path]) -> Settings:
    database = f"sqlite:///{tmp_path}/hauler.db"
    upgrade(database)
    roots = f"{tmp_path}:{next(iter(videos.values())).parent}"
    return Settings.from_env(
        {
            "HAULER_BROKER_URL": redis_url,
            "HAULER_DATABASE_URL": database,
            "HAULER_DATA_DIR": str(tmp_path / "data"),
            "HAULER_MEDIA_ROOTS": roots,
        }
    )


@pytest.mark.parametrize("codec", sorted(CODECS))
def test_sprite_tiles_are_the_frames_of_their_time(settings: Settings, videos, codec: str):
    # given a 16 s video of eight 2 s solid-colour segments
    # when a 4x2 sprite is made
    result = service.sprite(settings, str(videos[codec]), cols=4, rows=2, width=160)
    # then the sheet is 4x2 tiles of 160x120 and each tile shows its segment's colour
    sheet = Image.open(result["sprite"])
    assert (result["tile_width"], result["tile_height"]) == (160, 120)
    assert sheet.size == (4 * 160, 2 * 120)
    for i, (name, rgb) in enumerate(COLOURS):
        x, y = (i % 4) * 160, (i // 4) * 120
        assert close_to(dominant(sheet.crop((x, y, x + 160, y + 120))), rgb), (codec, i, name)
    # and the WebVTT cues cover the duration in order, pointing at the tiles
    vtt = Path(result["vtt"]).read_text()
    assert vtt.startswith("WEBVTT\n")
    cues = re.findall(r"(\S+) --> (\S+)\n(\S+)#xywh=(\d+),(\d+),(\d+),(\d+)", vtt)
    assert len(cues) == 8
    assert cues[0][:2] == ("00:00:00.000", "00:00:02.000")
    assert cues[5][:2] == ("00:00:10.000", "00:00:12.000")
    assert cues[7][1] == "00:00:16.000"
    assert cues[5][2:] == ("sprite.jpg", "160", "120", "160", "120")
    assert result["cached"] is False


def test_video_thumbnail_is_the_frame_at_ten_percent(settings: Settings, videos):
    # 10 % of 16 s is 1.6 s: inside the first (red) segment
    result = service.thumbnail(settings, str(videos["h264.mp4"]), width=200)
    image = Image.open(result["path"])
    assert image.size == (200, 150) and result["kind"] == "video"
    assert close_to(dominant(image), COLOURS[0][1])


def test_image_thumbnail_honours_exif_orientation_and_keeps_the_aspect(
    settings: Settings, tmp_path
):
    # given a 400x200 JPEG (red | blue) tagged "rotate 90° clockwise"
    source = oriented_jpeg(tmp_path / "photo.jpg", orientation=6)
    # when a thumbnail 100 wide is made
    result = service.thumbnail(settings, str(source), width=100, fmt="png")
    opened = Image.open(result["path"])
    assert opened.format == "PNG"
    image = opened.convert("RGB")
    # then it is upright (portrait 100x200), red on top and blue below
    assert image.size == (100, 200)
    assert close_to(image.getpixel((50, 40)), (255, 0, 0))
    assert close_to(image.getpixel((50, 160)), (0, 0, 255))


def test_a_second_request_is_a_cache_hit_until_invalidated(settings: Settings, videos, redis_url):
    import redis

    client = redis.Redis.from_url(redis_url)
    path = str(videos["h264.mp4"])
    first = service.sprite(settings, path, cols=2, rows=2)
    second = service.sprite(settings, path, cols=2, rows=2)
    assert (first["cached"], second["cached"]) == (False, True)
    assert second["sprite"] == first["sprite"]
    other = service.sprite(settings, path, cols=3, rows=2)
    assert other["cached"] is False and other["key"] != first["key"]
    stats = cache.stats(settings, client)
    assert (stats["entries"], stats["hits"], stats["misses"]) == (2, 1, 2)
    assert stats["bytes"] > 0
    assert cache.invalidate(settings, Path(path)) == 2
    assert not Path(first["sprite"]).exists()
    assert service.sprite(settings, path, cols=2, rows=2)["cached"] is False


def test_expired_entries_are_removed_by_cleanup(settings: Settings, videos):
    from datetime import UTC, datetime, timedelta

    from hauler import maintenance

    made = service.thumbnail(settings, str(videos["vp9.webm"]))
    later = datetime.now(UTC) + timedelta(seconds=settings.media.cache_ttl_seconds + 1)
    assert maintenance.cleanup(settings, now=later, activity_days=30)["media_cache_expired"] == 1
    assert not Path(made["path"]).exists()


def _bad_inputs(tmp_path: Path, videos: dict[str, Path]) -> list[tuple[str, str, str]]:
    text = tmp_path / "notes.mp4"
    text.write_text("this is not a video\n" * 100)
    empty = tmp_path / "empty.mp4"
    empty.touch()
    bomb = png_bomb(tmp_path / "bomb.png")
    cut = truncated(videos["h264.mp4"], tmp_path / "cut.mp4")
    return [
        ("sprite", str(text), "path"),
        ("thumbnail", str(empty), "path"),
        ("thumbnail", str(bomb), "path"),
        ("sprite", str(cut), ""),
        ("thumbnail", str(tmp_path / "missing.mp4"), "path"),
        ("thumbnail", "relative/file.mp4", "path"),
        ("thumbnail", "/etc/passwd", "path"),
        ("sprite", str(tmp_path), "path"),
    ]


def test_bad_inputs_are_permanent_errors_naming_the_argument(settings: Settings, videos, tmp_path):
    for kind, path, argument in _bad_inputs(tmp_path, videos):
        with pytest.raises(PermanentError) as caught:
            getattr(service, kind)(settings, path)
        if argument:
            assert isinstance(caught.value, InvalidArgument), (path, caught.value)
            assert caught.value.argument == argument, (path, caught.value)
    for kwargs, argument in (
        ({"cols": 0}, "cols"),
        ({"width": "wide"}, "width"),
        ({"fmt": "gif"}, "fmt"),
        ({"rows": True}, "rows"),
    ):
        with pytest.raises(InvalidArgument) as caught:
            service.sprite(settings, str(videos["h264.mp4"]), **kwargs)
        assert caught.value.argument == argument


def test_image_thumbnails_need_no_ffmpeg(tmp_path: Path, redis_url: str):
    # given a deployment whose ffmpeg is missing
    database = f"sqlite:///{tmp_path}/hauler.db"
    upgrade(database)
    settings = Settings.from_env(
        {
            "HAULER_BROKER_URL": redis_url,
            "HAULER_DATABASE_URL": database,
            "HAULER_DATA_DIR": str(tmp_path / "data"),
            "HAULER_MEDIA_ROOTS": str(tmp_path),
            "HAULER_MEDIA_FFMPEG": str(tmp_path / "no-such-ffmpeg"),
        }
    )
    image = tmp_path / "photo.png"
    Image.new("RGB", (400, 200), (10, 200, 10)).save(image)
    # when a thumbnail of a still image is asked for, then Pillow alone makes it
    made = service.thumbnail(settings, str(image), width=100)
    assert (made["kind"], made["width"], made["height"]) == ("image", 100, 50)


def _media(settings: Settings, **changes: int) -> Settings:
    return dataclasses.replace(settings, media=dataclasses.replace(settings.media, **changes))


@pytest.mark.parametrize(
    ("kwargs", "limit", "argument"),
    [
        ({"cols": 20, "rows": 20, "width": 1024}, 16_000_000, "width"),
        ({"cols": 20, "rows": 10, "width": 160}, 1_000_000, "cols"),
        ({"cols": 10, "rows": 20, "width": 160}, 1_000_000, "rows"),
    ],
)
def test_a_sprite_above_the_pixel_cap_is_refused_before_any_frame_is_grabbed(
    settings: Settings, videos, kwargs: dict[str, int], limit: int, argument: str
):
    # given a 320x240 video and a sprite cap of `limit` pixels
    capped = _media(settings, sprite_max_pixels=limit)
    # when a sprite larger than the cap is asked for
    started = time.monotonic()
    with pytest.raises(InvalidArgument) as caught:
        service.sprite(capped, str(videos["h264.mp4"]), **kwargs)
    # then it is refused at once, naming the argument to lower and the setting
    assert caught.value.argument == argument
    assert "HAULER_MEDIA_SPRITE_MAX_PIXELS" in str(caught.value)
    assert time.monotonic() - started < 5


def test_a_sprite_within_the_cap_is_made(settings: Settings, videos):
    # 10 x 5 tiles of 160x120 = 960,000 pixels, just under a 1,000,000-pixel cap
    capped = _media(settings, sprite_max_pixels=1_000_000)
    made = service.sprite(capped, str(videos["h264.mp4"]), cols=10, rows=5, width=160)
    assert (made["cols"], made["rows"], made["tile_width"]) == (10, 5, 160)


def test_the_max_pixels_setting_decides_even_above_pillows_own_limit(
    settings: Settings, tmp_path: Path
):
    # given a PNG whose header claims 11000x10000 = 110 Mpx (above Pillow's 89.5 Mpx)
    bomb = png_bomb(tmp_path / "big.png", 11_000, 10_000)
    # when HAULER_MEDIA_MAX_PIXELS is 100 Mpx, then Hauler refuses it with its own message
    with pytest.raises(InvalidArgument, match=r"110 Mpx, above the 100 Mpx limit") as caught:
        service.thumbnail(_media(settings, max_pixels=100_000_000), str(bomb))
    assert "HAULER_MEDIA_MAX_PIXELS" in str(caught.value)
    # and when it is 200 Mpx, the header passes and only the (truncated) data is refused
    with pytest.raises(InvalidArgument) as caught:
        service.thumbnail(_media(settings, max_pixels=200_000_000), str(bomb))
    assert "corrupt or truncated" in str(caught.value), caught.value


def test_info_describes_the_container_and_every_stream(
    settings: Settings, videos, ffmpeg, tmp_path
):
    # given the colour videos and a 10-bit HDR10 HEVC file with a titled French audio track
    hdr = hdr_sample(ffmpeg, tmp_path / "hdr.mkv")
    # when they are described
    described = {codec: service.info(settings, str(path)) for codec, path in videos.items()}
    sample = service.info(settings, str(hdr))
    # then the container, duration, size, bitrate and the video stream are reported
    for codec, info in described.items():
        assert (info["kind"], info["cached"]) == ("video", False), codec
        assert abs(info["duration"] - 16) < 0.5 and info["size"] == videos[codec].stat().st_size
        assert info["bit_rate"] > 0
        (video,) = info["streams"]
        assert (video["width"], video["height"], video["frame_rate"]) == (320, 240, 25.0)
        assert video["pix_fmt"] == "yuv420p" and video["hdr"] is None
    assert [i["streams"][0]["codec"] for i in described.values()] == ["h264", "vp9", "mpeg4"]
    assert described["h264.mp4"]["streams"][0]["profile"]
    video, audio = sample["streams"]
    assert (sample["container"], sample["title"]) == ("matroska,webm", "Sample")
    assert (video["codec"], video["profile"], video["pix_fmt"]) == (
        "hevc",
        "Main 10",
        "yuv420p10le",
    )
    assert (video["color_transfer"], video["hdr"], video["frame_rate"]) == (
        "smpte2084",
        "PQ",
        29.97,
    )
    assert (audio["codec"], audio["channels"], audio["sample_rate"]) == ("opus", 2, 48000)
    assert (audio["language"], audio["title"]) == ("fra", "Commentary")


def test_info_of_an_image_comes_from_pillow_with_its_exif_orientation(settings: Settings, tmp_path):
    photo = oriented_jpeg(tmp_path / "photo.jpg", orientation=6)
    info = service.info(settings, str(photo))
    assert {
        k: info[k] for k in ("kind", "container", "width", "height", "mode", "orientation")
    } == {
        "kind": "image",
        "container": "jpeg",
        "width": 400,
        "height": 200,
        "mode": "RGB",
        "orientation": 6,
    }
    assert info["size"] == photo.stat().st_size


def test_info_is_cached_by_content(settings: Settings, videos, tmp_path):
    first = service.info(settings, str(videos["vp9.webm"]))
    copy = tmp_path / "same-bytes.webm"
    copy.write_bytes(videos["vp9.webm"].read_bytes())
    second = service.info(settings, str(copy))
    assert (first["cached"], second["cached"], second["key"]) == (False, True, first["key"])
    assert second["streams"] == first["streams"]


def test_info_refuses_bad_input_naming_the_path(settings: Settings, videos, tmp_path):
    for kind, path, argument in _bad_inputs(tmp_path, videos):
        if kind == "sprite" and not argument:
            continue  # a truncated video still has a readable header: info describes it
        with pytest.raises(InvalidArgument) as caught:
            service.info(settings, path)
        assert caught.value.argument == "path", (path, caught.value)
