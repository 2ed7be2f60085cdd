"""Media the tests make for themselves: colour-coded videos, oriented images, bombs."""

from __future__ import annotations

import struct
import subprocess
import zlib
from pathlib import Path

from PIL import Image

#: One solid colour per segment of the test videos, in order.
COLOURS: list[tuple[str, tuple[int, int, int]]] = [
    ("red", (255, 0, 0)),
    ("lime", (0, 255, 0)),
    ("blue", (0, 0, 255)),
    ("yellow", (255, 255, 0)),
    ("magenta", (255, 0, 255)),
    ("cyan", (0, 255, 255)),
    ("white", (255, 255, 255)),
    ("black", (0, 0, 0)),
]

CODECS = {
    "h264.mp4": ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"],
    "vp9.webm": ["-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "200k"],
    "mpeg4.avi": ["-c:v", "mpeg4", "-q:v", "3"],
}


def colour_video(
    ffmpeg: str, out: Path, codec: str, segment: float = 2.0, size: str = "320x240"
) -> Path:
    """Solid-colour segments of ``segment`` seconds each (COLOURS order), a keyframe every 0.4 s."""
    argv = [ffmpeg, "-v", "error", "-y"]
    for name, _ in COLOURS:
        argv += ["-f", "lavfi", "-i", f"color=c={name}:s={size}:r=25:d={segment}"]
    inputs = "".join(f"[{i}:v]" for i in range(len(COLOURS)))
    argv += ["-filter_complex", f"{inputs}concat=n={len(COLOURS)}:v=1:a=0[v]", "-map", "[v]"]
    argv += [*CODECS[codec], "-g", "10", "-keyint_min", "10", str(out)]
    subprocess.run(argv, check=True, timeout=120)
    return out


def hdr_sample(ffmpeg: str, out: Path) -> Path:
    """2 s of 10-bit HEVC marked HDR10 (PQ, BT.2020) at 29.97 fps, with a French stereo Opus
    track titled "Commentary", in Matroska titled "Sample"."""
    argv = [ffmpeg, "-v", "error", "-y", "-f", "lavfi"]
    argv += ["-i", "testsrc2=size=320x240:rate=30000/1001:duration=2", "-f", "lavfi"]
    argv += ["-i", "sine=frequency=440:sample_rate=48000:duration=2"]
    argv += ["-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "log-level=error"]
    argv += ["-pix_fmt", "yuv420p10le", "-color_trc", "smpte2084", "-color_primaries", "bt2020"]
    argv += ["-colorspace", "bt2020nc", "-c:a", "libopus", "-ac", "2"]
    argv += ["-metadata:s:a:0", "language=fra", "-metadata:s:a:0", "title=Commentary"]
    argv += ["-metadata", "title=Sample", str(out)]
    subprocess.run(argv, check=True, timeout=120)
    return out


def oriented_jpeg(out: Path, orientation: int = 6) -> Path:
    """A 400x200 JPEG, left half red and right half blue, with an EXIF orientation tag."""
    image = Image.new("RGB", (400, 200), (255, 0, 0))
    image.paste((0, 0, 255), (200, 0, 400, 200))
    exif = Image.Exif()
    exif[0x0112] = orientation
    image.save(out, "JPEG", exif=exif.tobytes(), quality=95)
    return out


def png_bomb(out: Path, width: int = 50_000, height: int = 50_000) -> Path:
    """A tiny PNG whose header claims ``width`` x ``height`` pixels."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    body = zlib.compress(b"\x00" * 1024)
    out.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b"")
    )
    return out


def truncated(source: Path, out: Path, keep: float = 0.4) -> Path:
    """The first ``keep`` fraction of ``source``'s bytes."""
    data = source.read_bytes()
    out.write_bytes(data[: int(len(data) * keep)])
    return out


def dominant(image: Image.Image) -> tuple[int, int, int]:
    """The mean colour of the central half of ``image``."""
    w, h = image.size
    centre = image.convert("RGB").crop((w // 4, h // 4, 3 * w // 4, 3 * h // 4)).resize((1, 1))
    pixel = centre.getpixel((0, 0))
    assert isinstance(pixel, tuple)
    return (int(pixel[0]), int(pixel[1]), int(pixel[2]))


def close_to(
    actual: tuple[int, int, int], expected: tuple[int, int, int], tolerance: int = 40
) -> bool:
    return all(abs(a - e) <= tolerance for a, e in zip(actual, expected, strict=True))
