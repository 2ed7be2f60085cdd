"""What an archive is (by its first bytes, not its name), its volumes and its folder name."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from hauler.errors import CorruptArchive, Unsupported

#: Magic bytes at offset 0 → format; tar is recognised at offset 257 ("ustar").
MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"PK\x03\x04", "zip"),
    (b"PK\x05\x06", "zip"),  # an empty zip
    (b"7z\xbc\xaf\x27\x1c", "7z"),
    (b"Rar!\x1a\x07", "rar"),
    (b"\x1f\x8b", "tar.gz"),
    (b"BZh", "tar.bz2"),
    (b"\xfd7zXZ\x00", "tar.xz"),
    (b"\x28\xb5\x2f\xfd", "tar.zst"),
)
_SUFFIXES = re.compile(
    r"(\.part0*1\.rar|\.7z\.0*1|\.tar\.(gz|bz2|xz|zst)|\.(zip|7z|rar|tar|tgz|tbz2?|txz|tzst))$",
    re.IGNORECASE,
)
_SEVENZIP_PART = re.compile(r"^(?P<base>.+\.7z)\.(?P<num>\d+)$", re.IGNORECASE)
_RAR_PART = re.compile(r"^(?P<base>.+)\.part(?P<num>\d+)\.rar$", re.IGNORECASE)
_RAR_OLD = re.compile(r"^(?P<base>.+)\.(rar|r\d\d)$", re.IGNORECASE)


@dataclass(frozen=True)
class Archive:
    """One archive to extract: its format, the first volume, and every volume there is."""

    kind: str  # zip, tar, tar.gz, tar.bz2, tar.xz, tar.zst, 7z, rar
    path: Path  # the first volume (what the tools open)
    volumes: tuple[Path, ...]  # every volume found, in order (just ``path`` for one file)

    @property
    def size(self) -> int:
        """Bytes of all volumes together."""
        return sum(v.stat().st_size for v in self.volumes)

    @property
    def multi_volume(self) -> bool:
        return len(self.volumes) > 1 or _numbered(self.path) is not None

    def next_volume(self) -> str:
        """The name of the volume after the last one found (the one a truncated set lacks)."""
        following = _volume_after(self.volumes[-1], self.kind)
        return following.name if following else f"the volume after {self.volumes[-1].name}"


def detect(path: Path) -> Archive:
    """The archive at ``path`` (the first volume of a set, or any one volume of it).

    Raises:
        Unsupported: not an archive format Hauler extracts.
        CorruptArchive: the file cannot be read.
    """
    first = first_volume(path)
    try:
        with first.open("rb") as handle:
            head = handle.read(512)
    except OSError as exc:
        raise CorruptArchive(f"cannot read {first.name}: {exc.strerror}") from None
    for magic, kind in MAGIC:
        if head.startswith(magic):
            return Archive(kind, first, volumes(first, kind))
    if head[257:262] == b"ustar":
        return Archive("tar", first, (first,))
    raise Unsupported(f"{path.name} is not a zip, tar, 7z or rar archive")


def first_volume(path: Path) -> Path:
    """``name.7z.001`` for any ``name.7z.NNN``, ``name.part1.rar`` for any part."""
    if match := _SEVENZIP_PART.match(path.name):
        first = path.with_name(f"{match['base']}.{'1'.zfill(len(match['num']))}")
        return first if first.exists() else path
    if match := _RAR_PART.match(path.name):
        first = path.with_name(f"{match['base']}.part{'1'.zfill(len(match['num']))}.rar")
        return first if first.exists() else path
    return path


def volumes(first: Path, kind: str) -> tuple[Path, ...]:
    """``first`` and the volumes that follow it on disk, in order, up to the first gap."""
    found = [first]
    while (following := _volume_after(found[-1], kind)) is not None and following.exists():
        found.append(following)
    return tuple(found)


def _volume_after(volume: Path, kind: str) -> Path | None:
    """The name the volume after ``volume`` has (None: not a volume set)."""
    name = volume.name
    if kind == "7z" and (match := _SEVENZIP_PART.match(name)):
        return volume.with_name(_bump(match, name))
    if kind == "rar" and (match := _RAR_PART.match(name)):
        return volume.with_name(_bump(match, name))
    if kind == "rar" and name.lower().endswith(".rar"):
        return volume.with_name(f"{name[:-4]}.r00")
    if kind == "rar" and (old := _RAR_OLD.match(name)) and name[-2:].isdigit():
        return volume.with_name(f"{old['base']}.r{int(name[-2:]) + 1:02d}")
    return None


def folder_name(path: Path) -> str:
    """The folder an archive extracts into: its name without the archive suffixes."""
    stem = _SUFFIXES.sub("", path.name)
    return stem if stem and stem != path.name else path.stem or "archive"


def _numbered(path: Path) -> re.Match[str] | None:
    return _SEVENZIP_PART.match(path.name) or _RAR_PART.match(path.name)


def _bump(match: re.Match[str], name: str) -> str:
    number = match["num"]
    following = str(int(number) + 1).zfill(len(number))
    return name[: match.start("num")] + following + name[match.end("num") :]
