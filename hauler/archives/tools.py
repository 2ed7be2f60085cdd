"""7z and rar extracted by the 7z and unar programs, watched and capped while they write.

Both are listed first (names checked, links and devices left out, the declared size
checked against the caps and the free space); the program then writes into the staging
folder while Hauler measures what it wrote and kills it the moment a cap is passed.
Passwords reach 7z on its standard input, never on its command line.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from hauler.archives.formats import Archive
from hauler.archives.limits import Budget, check_room
from hauler.archives.names import entry_parts
from hauler.archives.pyformats import Outcome
from hauler.archives.settings import ArchiveSettings
from hauler.errors import (
    ConfigurationError,
    CorruptArchive,
    DiskFull,
    PasswordRequired,
    RetryableError,
    Unsupported,
    WrongPassword,
)
from hauler.progress import Meter

WATCH_EVERY = 0.2  # seconds between measurements of what the program wrote (at least)
_TRUNCATED = ("unexpected end", "more data than was available", "missing volume", "file failed")


@dataclass(frozen=True)
class Entry:
    """One entry of an archive's listing."""

    name: str
    size: int
    kind: str  # file, dir, link, special
    index: int  # position in the listing (unar extracts by index)
    encrypted: bool = False


def program(name: str, package: str) -> str:
    """The path of ``name``, or a ConfigurationError saying which package to install."""
    found = shutil.which(name)
    if not found:
        raise ConfigurationError(
            [f"{name} not found: install Debian's {package} (install-archives-peers.sh)"]
        )
    return found


def extract_7z(
    archive: Archive,
    root: Path,
    budget: Budget,
    password: str | None,
    meter: Meter,
    settings: ArchiveSettings,
) -> Outcome:
    """Extract a 7z (or a zip zipfile cannot decode) into ``root`` with the 7z program."""
    exe = program(settings.sevenzip, "p7zip-full")
    entries = _list_7z(exe, archive, password, settings.command_timeout)
    outcome = _plan(entries, root, budget, meter)
    excluded = [e.name for e in entries if e.kind in ("link", "special")]
    with tempfile.NamedTemporaryFile("w", suffix=".lst", delete=False) as listing:
        listing.write("".join(f"{name}\n" for name in excluded))
    argv = [exe, "x", "-y", "-bso0", "-bsp0", "-spd", f"-o{root}", f"-x@{listing.name}"]
    try:
        code, err = _watch(
            [*argv, "--", str(archive.path)],
            _secret(password),
            root,
            budget,
            meter,
            settings.command_timeout,
        )
    finally:
        os.unlink(listing.name)
    if code != 0:
        _raise_for(err, archive, password)
    outcome.files = sum(1 for e in entries if e.kind == "file")
    return outcome


def extract_rar(
    archive: Archive,
    root: Path,
    budget: Budget,
    password: str | None,
    meter: Meter,
    settings: ArchiveSettings,
) -> Outcome:
    """Extract a rar (RAR4 or RAR5, one file or a volume set) into ``root`` with unar."""
    lsar = program(settings.lsar, "unar")
    unar = program(settings.unar, "unar")
    entries = _list_rar(lsar, archive, settings.command_timeout)
    if any(e.encrypted for e in entries):
        if password is None:
            raise PasswordRequired(f"{archive.path.name} is encrypted; give its password")
        raise Unsupported(
            f"{archive.path.name} is an encrypted rar: unar takes passwords only on its "
            "command line, where every local user could read them; Hauler does not pass them"
        )
    outcome = _plan(entries, root, budget, meter)
    wanted = [str(e.index) for e in entries if e.kind in ("file", "dir")]
    if not wanted:
        return outcome
    argv = [unar, "-q", "-D", "-nr", "-f", "-o", str(root), "-i", "--", str(archive.path), *wanted]
    code, err = _watch(argv, None, root, budget, meter, settings.command_timeout)
    if code != 0:
        _raise_for(err, archive, password)
    outcome.files = sum(1 for e in entries if e.kind == "file")
    return outcome


def _plan(entries: list[Entry], root: Path, budget: Budget, meter: Meter) -> Outcome:
    """Check the listing before anything is written: names, caps and free space."""
    for entry in entries:
        entry_parts(entry.name)  # raises for a name that leads outside
    total = sum(e.size for e in entries if e.kind == "file")
    budget.declared(total, len(entries))
    check_room(root, total)
    meter.total = total
    return Outcome(skipped=[e.name for e in entries if e.kind in ("link", "special")])


def _list_7z(exe: str, archive: Archive, password: str | None, timeout: float) -> list[Entry]:
    done = _run([exe, "l", "-slt", "--", str(archive.path)], _secret(password), timeout)
    text = done.stdout.decode(errors="replace")
    if done.returncode != 0 or "----------" not in text:
        _raise_for(done.stderr.decode(errors="replace") + text, archive, password)
    entries = []
    for index, block in enumerate(text.split("----------", 1)[1].strip().split("\n\n")):
        fields = dict(line.split(" = ", 1) for line in block.splitlines() if " = " in line)
        if "Path" not in fields:
            continue
        attributes = fields.get("Attributes", "")
        unix = attributes.split(" ", 1)[1] if " " in attributes else ""
        if fields.get("Folder") == "+" or unix.startswith("d"):
            kind = "dir"
        elif unix.startswith("l") or fields.get("Symbolic Link"):
            kind = "link"
        elif unix and unix[0] in "cbps":
            kind = "special"
        else:
            kind = "file"
        size = int(fields.get("Size") or 0)
        entries.append(Entry(fields["Path"], size, kind, index, fields.get("Encrypted") == "+"))
    return entries


def _list_rar(lsar: str, archive: Archive, timeout: float) -> list[Entry]:
    done = _run([lsar, "-j", "--", str(archive.path)], None, timeout)
    try:
        listing = json.loads(done.stdout or b"{}")
    except json.JSONDecodeError:
        listing = {}
    contents = listing.get("lsarContents")
    if done.returncode != 0 or listing.get("lsarError") or contents is None:
        message = done.stderr.decode(errors="replace") + str(listing.get("lsarError", ""))
        if listing.get("lsarError") and archive.multi_volume:
            message += " unexpected end"
        _raise_for(message, archive, None)
    entries = []
    for item in contents or []:
        if item.get("XADIsDirectory"):
            kind = "dir"
        elif item.get("XADIsLink") or item.get("XADIsHardLink"):
            kind = "link"
        elif (
            item.get("XADIsCharacterDevice")
            or item.get("XADIsBlockDevice")
            or item.get("XADIsFIFO")
        ):
            kind = "special"
        else:
            kind = "file"
        entries.append(
            Entry(
                str(item.get("XADFileName", "")),
                int(item.get("XADFileSize") or 0),
                kind,
                int(item.get("XADIndex", 0)),
                bool(item.get("XADIsEncrypted")),
            )
        )
    return entries


def _raise_for(err: str, archive: Archive, password: str | None) -> None:
    """Turn a program's failure into Hauler's error for it."""
    lowered = err.lower()
    name = archive.path.name
    if "wrong password" in lowered or ("encrypted" in lowered and "password" in lowered):
        if password is None:
            raise PasswordRequired(f"{name} is encrypted; give its password")
        raise WrongPassword(f"the password does not open {name}")
    if "no space left" in lowered or "not enough space" in lowered:
        raise DiskFull(f"disk full while extracting {name}")
    if archive.multi_volume and any(mark in lowered for mark in _TRUNCATED):
        raise CorruptArchive(
            f"volume set {name} is truncated: {archive.next_volume()} is missing "
            f"({len(archive.volumes)} volume(s) found)"
        )
    lines = [line.strip() for line in err.splitlines() if line.strip()]
    telling = [line for line in lines if "error" in line.lower() or "end of" in line.lower()]
    detail = "; ".join(telling or lines[-1:])[-300:]
    raise CorruptArchive(f"{name} is damaged or not readable ({detail or 'no detail'})")


def _secret(password: str | None) -> bytes:
    """What 7z reads when it asks for a password: the password, or an empty line."""
    return ((password or "") + "\n").encode()


def _run(
    argv: list[str], stdin: bytes | None, timeout: float
) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(argv, input=stdin or b"", capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise RetryableError(f"{Path(argv[0]).name} ran past {timeout:g}s") from None


def _watch(
    argv: list[str],
    stdin: bytes | None,
    root: Path,
    budget: Budget,
    meter: Meter,
    timeout: float,
) -> tuple[int, str]:
    """Run ``argv`` writing into ``root``; kill it when what it wrote passes a cap.

    Returns:
        The exit status and the program's error output.
    """
    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=errors
        )
        assert process.stdin is not None
        try:
            process.stdin.write(stdin or b"")
            process.stdin.close()
            deadline = time.monotonic() + timeout
            while process.poll() is None:
                if time.monotonic() > deadline:
                    raise RetryableError(f"{Path(argv[0]).name} ran past {timeout:g}s")
                measured = time.monotonic()
                written = tree_size(root)
                budget.written = 0
                budget.add(written)  # raises past a cap: the program is killed below
                meter.at(written)
                # a large tree takes a while to measure: keep that under 1/5 of a core
                time.sleep(max(WATCH_EVERY, 4 * (time.monotonic() - measured)))
            written = tree_size(root)
            budget.written = 0
            budget.add(written)
            meter.at(written)
        except BaseException:
            process.kill()
            process.wait()
            raise
        errors.seek(0)
        return process.returncode, errors.read().decode(errors="replace")


def tree_size(root: Path) -> int:
    """Bytes of the regular files under ``root`` (links not followed)."""
    total = 0
    stack = [str(root)]
    while stack:
        try:
            with os.scandir(stack.pop()) as entries:
                for entry in entries:
                    if entry.is_dir(follow_symlinks=False):
                        stack.append(entry.path)
                    elif entry.is_file(follow_symlinks=False):
                        total += entry.stat(follow_symlinks=False).st_size
        except FileNotFoundError:
            continue
    return total
