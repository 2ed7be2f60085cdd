"""Finding ffmpeg/ffprobe and running them with a timeout that always kills the child."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from functools import lru_cache

from hauler.errors import ConfigurationError, RetryableError
from hauler.media.settings import MediaSettings


@dataclass(frozen=True)
class Tools:
    """The media binaries Hauler runs."""

    ffmpeg: str
    ffprobe: str | None  # None: durations come from ``ffmpeg -i`` instead


@lru_cache(maxsize=4)
def find_tools(settings: MediaSettings) -> Tools:
    """Locate ffmpeg (configured, PATH, or imageio-ffmpeg's bundled binary) and ffprobe.

    Raises:
        ConfigurationError: no usable ffmpeg was found.
    """
    ffmpeg = settings.ffmpeg or shutil.which("ffmpeg") or _bundled_ffmpeg()
    if not ffmpeg or not shutil.which(ffmpeg):
        raise ConfigurationError(
            [
                "ffmpeg not found: install Debian's ffmpeg, `pip install imageio-ffmpeg`, "
                "or set HAULER_MEDIA_FFMPEG"
            ]
        )
    ffprobe = settings.ffprobe or shutil.which("ffprobe")
    return Tools(ffmpeg=ffmpeg, ffprobe=ffprobe if ffprobe and shutil.which(ffprobe) else None)


def _bundled_ffmpeg() -> str | None:
    try:
        import imageio_ffmpeg
    except ImportError:
        return None
    try:
        return str(imageio_ffmpeg.get_ffmpeg_exe())
    except RuntimeError:
        return None


def run(
    argv: list[str], timeout: float, running: set[subprocess.Popen[bytes]] | None = None
) -> subprocess.CompletedProcess[bytes]:
    """Run ``argv`` capturing output; kill it on timeout or on any exception.

    A soft time limit (Celery raises SoftTimeLimitExceeded inside the task) interrupts
    the wait; the child is killed before the exception propagates, so no ffmpeg
    outlives its task.

    Args:
        argv: the command.
        timeout: seconds before the child is killed.
        running: a set the child is registered in while it runs, so a caller running
            several in threads can kill them all at once.

    Raises:
        RetryableError: the command ran past ``timeout`` seconds.
    """
    process = subprocess.Popen(
        argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    if running is not None:
        running.add(process)
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        raise RetryableError(f"{argv[0]} ran past {timeout:g}s") from None
    except BaseException:
        process.kill()
        process.communicate()
        raise
    finally:
        if running is not None:
            running.discard(process)
    return subprocess.CompletedProcess(argv, process.returncode, out, err)


def last_error_line(stderr: bytes) -> str:
    """The most telling line of ffmpeg's stderr."""
    lines = [line.strip() for line in stderr.decode(errors="replace").splitlines() if line.strip()]
    return lines[-1][:300] if lines else "no error output"
