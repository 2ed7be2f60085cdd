"""Entry names made safe: relative, inside the folder, each part sanitised as for downloads."""

from __future__ import annotations

import re
from pathlib import Path

from hauler.downloads.safety import safe_name
from hauler.errors import UnsafeArchive

_DRIVE = re.compile(r"^[A-Za-z]:")


def entry_parts(name: str) -> tuple[str, ...]:
    """The path parts an archive entry ``name`` is written under, relative to its folder.

    Leading ``/`` and drive letters (``C:``) are dropped, as tar and unzip do; ``\\`` counts
    as a separator; every part is sanitised with the downloads' :func:`safe_name`. An
    empty name is ``()`` (the folder itself).

    Raises:
        UnsafeArchive: a ``..`` part would lead outside the folder.
    """
    text = _DRIVE.sub("", name.replace("\\", "/"))
    parts = [part for part in text.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise UnsafeArchive(f"entry {name!r} would land outside the extraction folder")
    return tuple(safe_name(part, fallback="_") for part in parts)


def target(root: Path, name: str) -> Path | None:
    """Where entry ``name`` goes under ``root`` (None for the root itself); never outside it."""
    parts = entry_parts(name)
    if not parts:
        return None
    path = root.joinpath(*parts)
    if not path.resolve().is_relative_to(root.resolve()):
        raise UnsafeArchive(f"entry {name!r} would land outside the extraction folder")
    return path


def sanitise_tree(root: Path) -> None:
    """Rename, bottom-up, every name under ``root`` that :func:`safe_name` would change.

    For what an external program wrote: a name that collides gets `` (1)``, `` (2)``….
    """
    for path in sorted(root.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        wanted = safe_name(path.name, fallback="_")
        if wanted == path.name:
            continue
        candidate, counter = path.with_name(wanted), 1
        while candidate.exists() or candidate.is_symlink():
            stem, dot, ext = wanted.rpartition(".")
            base = (stem, "." + ext) if dot and stem else (wanted, "")
            candidate = path.with_name(f"{base[0]} ({counter}){base[1]}")
            counter += 1
        path.rename(candidate)
