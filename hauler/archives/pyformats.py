"""zip and tar extracted in-process by zipfile and tarfile (``data`` filter on every entry)."""

from __future__ import annotations

import errno
import lzma
import shutil
import stat
import subprocess
import tarfile
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from hauler.archives.formats import Archive
from hauler.archives.limits import Budget, check_room
from hauler.archives.names import target
from hauler.errors import (
    ConfigurationError,
    CorruptArchive,
    DiskFull,
    PasswordRequired,
    UnsafeArchive,
    WrongPassword,
)
from hauler.progress import Meter

CHUNK = 1024 * 1024
#: zip methods zipfile decodes; others (AES, zstd, deflate64…) go to 7z.
ZIP_METHODS = {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA}
#: The programs that decompress a tar stream in a child process (when on PATH).
DECOMPRESSORS = {"tar.gz": "gzip", "tar.bz2": "bzip2", "tar.xz": "xz"}
_BROKEN = (EOFError, zlib.error, lzma.LZMAError, tarfile.ReadError, zipfile.BadZipFile)


@dataclass
class Outcome:
    """What an extractor did: files written and entries it left out (links, devices)."""

    files: int = 0
    skipped: list[str] = field(default_factory=list)


def zip_needs_7z(archive: Archive) -> bool:
    """True when zipfile cannot decode some entry (AES encryption, newer methods)."""
    try:
        with zipfile.ZipFile(archive.path) as zf:
            return any(
                info.compress_type not in ZIP_METHODS or info.compress_type == 99
                for info in zf.infolist()
            )
    except (zipfile.BadZipFile, OSError):
        return False  # extract_zip reports it


def extract_zip(
    archive: Archive, root: Path, budget: Budget, password: str | None, meter: Meter
) -> Outcome:
    """Extract a zip into ``root``; links and special files are left out.

    Raises:
        CorruptArchive, PasswordRequired, WrongPassword, UnsafeArchive, DiskFull.
    """
    outcome = Outcome()
    try:
        zf = zipfile.ZipFile(archive.path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise CorruptArchive(f"{archive.path.name} is not a readable zip ({exc})") from None
    with zf:
        infos = zf.infolist()
        total = sum(info.file_size for info in infos)
        budget.declared(total, len(infos))
        check_room(root, total)
        meter.total = total
        encrypted = any(info.flag_bits & 0x1 for info in infos)
        if encrypted and password is None:
            raise PasswordRequired(f"{archive.path.name} is encrypted; give its password")
        secret = password.encode() if password is not None else None
        for info in infos:
            budget.entry()
            if _special(info):
                outcome.skipped.append(info.filename)  # a symlink, device or fifo
                continue
            dest = target(root, info.filename)
            if dest is None:
                continue
            if info.is_dir():
                _mkdir(dest)
                continue
            _mkdir(dest.parent)
            _zip_member(zf, info, dest, secret, budget, meter, archive.path.name)
            outcome.files += 1
    return outcome


def _special(info: zipfile.ZipInfo) -> bool:
    """True for an entry whose Unix mode says symlink, device, fifo or socket."""
    kind = stat.S_IFMT(info.external_attr >> 16) if info.create_system == 3 else 0
    return kind not in (0, stat.S_IFREG, stat.S_IFDIR)


def _zip_member(
    zf: zipfile.ZipFile,
    info: zipfile.ZipInfo,
    dest: Path,
    secret: bytes | None,
    budget: Budget,
    meter: Meter,
    name: str,
) -> None:
    """Write one zip entry to ``dest``; a bad password or bad data raises Hauler's error."""
    encrypted = bool(info.flag_bits & 0x1)
    try:
        with zf.open(info, pwd=secret if encrypted else None) as src:
            _copy(src, dest, budget, meter)
    except RuntimeError as exc:
        if "password" in str(exc).lower():
            raise WrongPassword(f"the password does not open {name}") from None
        raise
    except _BROKEN as exc:
        if encrypted and "CRC" in str(exc):
            raise WrongPassword(f"the password does not open {name}") from None
        raise CorruptArchive(f"{name}: {info.filename}: {exc}") from None


def extract_tar(archive: Archive, root: Path, budget: Budget, zstd: str, meter: Meter) -> Outcome:
    """Extract a tar (plain, gz, bz2, xz or zst) into ``root`` as a stream, never seeking.

    Each member passes tarfile's ``data`` filter (no absolute or escaping names, no links
    out, no devices); links and special files are then left out altogether.

    Raises:
        CorruptArchive, UnsafeArchive, DiskFull.
    """
    outcome = Outcome()
    with _tar_stream(archive, zstd) as tf:
        try:
            for member in tf:
                budget.entry()
                if not (member.isfile() or member.isdir()):
                    outcome.skipped.append(member.name)  # symlink, hard link, device, fifo
                    continue
                try:
                    tarfile.data_filter(member, str(root))
                except tarfile.FilterError as exc:
                    raise UnsafeArchive(f"entry {member.name!r} refused: {exc}") from None
                dest = target(root, member.name)
                if dest is None:
                    continue
                if member.isdir():
                    _mkdir(dest)
                    continue
                if budget.written + member.size > budget.limit:
                    budget.add(member.size)  # raises: refused before writing it
                check_room(root, member.size)
                _mkdir(dest.parent)
                source = tf.extractfile(member)
                if source is None:
                    continue
                _copy(source, dest, budget, meter)
                outcome.files += 1
        except (*_BROKEN, OSError) as exc:
            if isinstance(exc, OSError) and not _is_stream_error(exc):
                raise
            raise CorruptArchive(f"{archive.path.name} is damaged or truncated ({exc})") from None
    return outcome


@contextmanager
def _tar_stream(archive: Archive, zstd: str) -> Iterator[tarfile.TarFile]:
    """The archive as a streaming TarFile.

    A compressed tar is decompressed by its program (gzip, bzip2, xz, zstd) in a child
    process when there is one, so decompressing and writing run on two cores, as with
    ``tar -x``; without it (zstd is required) tarfile decompresses in-process.
    """
    program = shutil.which(
        zstd if archive.kind == "tar.zst" else DECOMPRESSORS.get(archive.kind, "")
    )
    if archive.kind != "tar.zst" and program is None:
        try:
            opened = tarfile.open(archive.path, mode="r|*")  # noqa: SIM115 - closed below
        except _BROKEN as exc:
            raise CorruptArchive(f"{archive.path.name} is not a readable tar ({exc})") from None
        with opened as tf:
            yield tf
        return
    if program is None:
        raise ConfigurationError([f"{zstd} not found: install Debian's zstd for .tar.zst"])
    process = subprocess.Popen(
        [program, "-dc", "--", str(archive.path)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None
    try:
        try:
            tf = tarfile.open(fileobj=process.stdout, mode="r|")  # noqa: SIM115 - closed below
        except _BROKEN as exc:
            raise CorruptArchive(f"{archive.path.name} is not a readable tar ({exc})") from None
        with tf:
            yield tf
        ended = _drain(process.stdout)  # the end-of-archive padding, so the program exits
    except BaseException:
        process.kill()
        raise
    finally:
        process.stdout.close()
    if not ended:
        process.kill()  # more trailing data than padding: ignored, as tar ignores it
    _, err = process.communicate()
    if ended and process.returncode != 0:
        message = err.decode(errors="replace").strip()
        raise CorruptArchive(f"{archive.path.name} is damaged or truncated ({message})")


def _drain(stream: IO[bytes], limit: int = 16 * CHUNK) -> bool:
    """Read ``stream`` to its end (True), or give up after ``limit`` bytes (False)."""
    read = 0
    while chunk := stream.read(CHUNK):
        read += len(chunk)
        if read > limit:
            return False
    return True


def _is_stream_error(exc: OSError) -> bool:
    """bz2 and gzip report bad data as plain OSError without an errno."""
    return exc.errno is None


def _mkdir(path: Path) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise UnsafeArchive(f"entry {path.name!r} is both a file and a folder") from None


def _copy(source: IO[bytes], dest: Path, budget: Budget, meter: Meter) -> None:
    """Copy ``source`` to a new file ``dest`` in chunks, counting every chunk against the caps."""
    try:
        with dest.open("wb") as out:
            while chunk := source.read(CHUNK):
                budget.add(len(chunk))
                out.write(chunk)
                meter.add(len(chunk))
    except IsADirectoryError:
        raise UnsafeArchive(f"entry {dest.name!r} is both a file and a folder") from None
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            raise DiskFull(f"disk full while extracting {dest.name}") from None
        raise
