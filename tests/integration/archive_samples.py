"""Archives the tests make for themselves: every format, hostile entries, bombs, volume sets."""

from __future__ import annotations

import io
import os
import stat
import subprocess
import tarfile
import zipfile
from pathlib import Path

#: The files of the ordinary sample archives: name → content.
FILES: dict[str, bytes] = {
    "readme.txt": b"hello from an archive\n",
    "docs/guide.md": b"# guide\n" * 100,
    "docs/deep/data.bin": bytes(range(256)) * 64,
}
TAR_MODES = {"tar": "w", "tar.gz": "w:gz", "tar.bz2": "w:bz2", "tar.xz": "w:xz"}


def tree(folder: Path, files: dict[str, bytes] = FILES) -> Path:
    """``files`` written under ``folder``."""
    for name, data in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    return folder


def make_zip(out: Path, files: dict[str, bytes] = FILES) -> Path:
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return out


def make_tar(out: Path, kind: str, files: dict[str, bytes] = FILES) -> Path:
    """A tar, tar.gz, tar.bz2, tar.xz (tarfile) or tar.zst (tarfile + the zstd program)."""
    plain = out.with_suffix(".plain.tar") if kind == "tar.zst" else out
    with tarfile.open(plain, TAR_MODES.get(kind, "w")) as tf:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    if kind == "tar.zst":
        subprocess.run(["zstd", "-q", "-f", "--rm", str(plain), "-o", str(out)], check=True)
    return out


def run_tool(argv: list[str], cwd: Path) -> None:
    subprocess.run(argv, cwd=cwd, check=True, capture_output=True, timeout=120)


def make_7z(out: Path, source: Path, *extra: str) -> Path:
    """``7z a`` of the files in ``source`` (``extra``: e.g. ``-psecret -mhe=on``, ``-v1m``)."""
    run_tool(["7z", "a", "-bso0", *extra, str(out), "."], source)
    return out


def make_rar(out: Path, source: Path, *extra: str) -> Path:
    """``rar a`` of the files in ``source`` (Debian's non-free rar)."""
    run_tool(["rar", "a", "-idq", "-r", *extra, str(out), "."], source)
    return out


def hostile_zip(out: Path) -> Path:
    """A zip with an escaping name among ordinary ones."""
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr("fine.txt", b"fine")
        zf.writestr("../../escaped.txt", b"outside!")
    return out


def absolute_zip(out: Path) -> Path:
    """A zip whose names are absolute or carry a drive letter or backslashes."""
    with zipfile.ZipFile(out, "w") as zf:
        for name in ("/etc/hauler-abs.txt", "C:\\Windows\\drive.txt", "dir\\back.txt"):
            info = zipfile.ZipInfo(name)
            zf.writestr(info, b"absolute")
    return out


def link_zip(out: Path, target: str) -> Path:
    """A zip with a symlink entry pointing at ``target``, then a file through it."""
    with zipfile.ZipFile(out, "w") as zf:
        info = zipfile.ZipInfo("link")
        info.create_system = 3
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(info, target.encode())
        zf.writestr("fine.txt", b"fine")
    return out


def link_tar(out: Path, outside: Path) -> Path:
    """A tar with a symlink and a hard link out, a file written through the symlink, a device."""
    with tarfile.open(out, "w") as tf:
        for name, kind, link in (
            ("sym", tarfile.SYMTYPE, str(outside)),
            ("hard", tarfile.LNKTYPE, str(outside / "victim.txt")),
            ("null", tarfile.CHRTYPE, ""),
        ):
            info = tarfile.TarInfo(name)
            info.type, info.linkname = kind, link
            tf.addfile(info)
        data = b"through the link"
        info = tarfile.TarInfo("sym/planted.txt")
        info.size = len(data)
        tf.addfile(info, io.BytesIO(data))
        info = tarfile.TarInfo("fine.txt")
        info.size = 4
        tf.addfile(info, io.BytesIO(b"fine"))
    return out


def traversal_tar(out: Path) -> Path:
    with tarfile.open(out, "w") as tf:
        info = tarfile.TarInfo("../../escaped.txt")
        info.size = 3
        tf.addfile(info, io.BytesIO(b"bad"))
    return out


def zeros_zip(out: Path, size: int, name: str = "zeros.bin") -> Path:
    """A zip of one file of ``size`` zero bytes (1 GiB deflates to about 1 MB)."""
    chunk = b"\0" * (1 << 20)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        entry = zf.open(name, "w", force_zip64=True)
        with entry:
            for _ in range(size // len(chunk)):
                entry.write(chunk)
    return out


def nested_zip(out: Path, inner: Path, copies: int = 4) -> Path:
    """A zip holding ``copies`` of the archive ``inner``, stored (the 42.zip shape)."""
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as zf:
        for i in range(copies):
            zf.write(inner, f"layer{i}.zip")
    return out


def random_file(out: Path, size: int) -> Path:
    out.write_bytes(os.urandom(size))
    return out


def outside_files(root: Path) -> set[Path]:
    """Every path under ``root`` (for 'nothing landed outside' checks)."""
    return set(root.rglob("*"))
