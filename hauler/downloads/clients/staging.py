"""What the external clients share about a job's files: reading, naming and clearing them."""

from __future__ import annotations

import shutil
from pathlib import Path

from hauler.downloads.clients.base import ClientFailed, Job
from hauler.downloads.links import Link


def read_local(link: Link) -> bytes:
    """The bytes of a local .torrent file.

    Raises:
        ClientFailed: the file cannot be read.
    """
    try:
        return Path(link.url).read_bytes()
    except OSError as exc:
        raise ClientFailed(f"cannot read {link.shown}: {exc.strerror}") from None


def inside_workdir(path: Path, job: Job, client: str) -> Path:
    """``path``, checked to lie inside the job's work directory.

    Raises:
        ClientFailed: the client saved the download somewhere else.
    """
    if not path.resolve().is_relative_to(job.workdir.resolve()):
        raise ClientFailed(f"{client} saved the download outside its work directory: {path}")
    return path


def wanted_name(path: Path, job: Job) -> Path:
    """A single downloaded file renamed to ``job.filename`` when the caller asked for a name."""
    if job.filename and path.is_file() and path.name != job.filename:
        return path.rename(job.workdir / job.filename)
    return path


def empty(directory: Path) -> None:
    """Delete everything inside ``directory`` (the job's own staging directory)."""
    for entry in directory.iterdir():
        if entry.is_dir():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
