"""Image thumbnails with Pillow: EXIF orientation honoured, aspect kept, bombs refused."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from hauler.errors import InvalidArgument
from hauler.media.probe import MediaInfo

PIL_FORMATS = {"jpeg": "JPEG", "png": "PNG", "webp": "WEBP"}
_PIXELS = re.compile(r"\((\d+) pixels\)")


def still_image(path: Path, max_pixels: int) -> MediaInfo | None:
    """What ``path`` is when Pillow reads it as a still image (no ffmpeg needed), else None.

    Raises:
        InvalidArgument: an image too large to decode (a decompression bomb).
    """
    image = _open(path, max_pixels)
    if image is None:
        return None  # not an image Pillow knows: ffprobe decides
    with image:
        if getattr(image, "is_animated", False) or not image.format:
            return None
        return MediaInfo("image", 0.0, image.width, image.height, image.format.lower())


def open_checked(path: Path, max_pixels: int) -> Image.Image:
    """Open ``path`` lazily, refusing files that are not images or are too large to decode.

    Raises:
        InvalidArgument: not an image Pillow reads, or more than ``max_pixels`` pixels.
    """
    image = _open(path, max_pixels)
    if image is None:
        raise InvalidArgument("path", "not an image Hauler can read")
    return image


def _open(path: Path, max_pixels: int) -> Image.Image | None:
    """The image, lazily opened (header only); None when Pillow does not know the format.

    ``HAULER_MEDIA_MAX_PIXELS`` is the limit that decides, above Pillow's own default
    (89.5 Mpx) as well as below it: Pillow's limit is set to it before every open, so
    Pillow's bomb check and Hauler's refuse the same images, with Hauler's message.
    """
    Image.MAX_IMAGE_PIXELS = max_pixels
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(path)
    except UnidentifiedImageError:
        return None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        pixels = _PIXELS.search(str(exc))
        raise _too_large(int(pixels.group(1)) if pixels else None, max_pixels) from None
    width, height = image.size
    if width * height > max_pixels:
        image.close()
        raise _too_large(width * height, max_pixels, f"{width}x{height} = ")
    return image


def _too_large(pixels: int | None, max_pixels: int, size: str = "") -> InvalidArgument:
    shown = f"{size}{pixels / 1e6:.0f} Mpx" if pixels else "too large"
    return InvalidArgument(
        "path",
        f"image is {shown}, above the {max_pixels / 1e6:.0f} Mpx limit "
        "(HAULER_MEDIA_MAX_PIXELS); decompression bomb?",
    )


def fit(size: tuple[int, int], width: int, height: int | None) -> tuple[int, int]:
    """The largest size within ``width`` x ``height`` with the aspect of ``size``."""
    source_w, source_h = size
    scale = width / source_w
    if height is not None:
        scale = min(scale, height / source_h)
    return max(1, round(source_w * scale)), max(1, round(source_h * scale))


def thumbnail_image(
    image: Image.Image, out: Path, width: int, height: int | None, fmt: str
) -> tuple[int, int]:
    """Write a thumbnail of ``image`` (an open Pillow image) to ``out``; return its size."""
    try:
        bound = max(width, height or 0)
        image.draft("RGB", (bound, bound))  # JPEG: decode at a reduced scale, still ≥ target
        upright = ImageOps.exif_transpose(image)
        target = fit(upright.size, width, height)
        thumb = upright.convert(
            "RGBA" if fmt != "jpeg" and upright.mode in ("RGBA", "LA", "P") else "RGB"
        )
        thumb = thumb.resize(target, Image.Resampling.LANCZOS)
    except (OSError, ValueError, SyntaxError) as exc:
        raise InvalidArgument("path", f"image data is corrupt or truncated ({exc})") from None
    save(thumb, out, fmt)
    return thumb.size


def save(image: Image.Image, out: Path, fmt: str) -> None:
    """Save ``image`` as ``fmt`` (jpeg, png or webp) with sensible quality."""
    options = {"quality": 85, "optimize": True} if fmt in ("jpeg", "webp") else {"optimize": True}
    if fmt == "jpeg" and image.mode != "RGB":
        image = image.convert("RGB")
    image.save(out, PIL_FORMATS[fmt], **options)
