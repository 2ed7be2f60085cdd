"""Taking a finished download out of a peer program's folder into the job's work directory.

NZBGet and SABnzbd write each download into a folder of their own named after the job
(the job tag, so the folder is this job's alone). A single file comes out as the file
itself (renamed to ``job.filename`` when asked); several files come out as one directory.
A redelivered job whose files were already moved finds them in its work directory.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from hauler.downloads.clients.base import ClientFailed, Finished, Job
from hauler.downloads.safety import safe_name
from hauler.errors import PermanentError

_OWN_SUFFIX = re.compile(r"|\.#?\d+|_duplicate\d+| \(\d+\)")


class SharedFolder(PermanentError):
    """Raised when a peer's folder for a job is not the job's own, so it cannot be moved."""


def collect(source: Path, job: Job, peer: str) -> Finished:
    """Move the result ``peer`` left in ``source`` (a folder named after ``job.tag``) over.

    Raises:
        SharedFolder: ``source`` is not named after the job (a category without job
            folders): moving it would take other downloads too.
        ClientFailed: neither ``source`` nor the work directory holds any file.
    """
    if source.exists() and not owned(source, job.tag):
        raise SharedFolder(
            f"{peer} put {job.tag} in {source}, which is not a folder of its own: "
            "enable job folders for the category Hauler uses"
        )
    files = _files(source)
    if len(files) == 1:
        target = job.workdir / (job.filename or safe_name(files[0].name))
        shutil.move(files[0], target)
        shutil.rmtree(source, ignore_errors=True)
        return Finished(target, target.stat().st_size)
    if files:
        target = job.workdir / safe_name(job.tag)
        shutil.move(source, target)
        return Finished(target, sum(p.stat().st_size for p in _files(target)))
    return _already_here(job, peer, source)


def discard(source: Path, tag: str) -> None:
    """Remove what is left of a failed download, if the folder is the job's own (``tag``)."""
    if source.is_dir() and owned(source, tag):
        shutil.rmtree(source, ignore_errors=True)


def owned(folder: Path, tag: str) -> bool:
    """True when ``folder`` is named after ``tag``, allowing the suffixes peers add to keep
    names unique (``.#7`` for NZBGet's intermediate folders, ``.1``, ``_duplicate1``)."""
    name = folder.name
    return name.startswith(tag) and _OWN_SUFFIX.fullmatch(name[len(tag) :]) is not None


def _files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.rglob("*") if p.is_file())


def _already_here(job: Job, peer: str, source: Path) -> Finished:
    """A previous delivery moved the result already: it is the work directory's one entry."""
    entries = [p for p in job.workdir.iterdir() if not p.name.startswith(".")]
    if len(entries) == 1:
        found = entries[0]
        size = (
            found.stat().st_size
            if found.is_file()
            else sum(p.stat().st_size for p in _files(found))
        )
        return Finished(found, size)
    raise ClientFailed(f"{peer} reports {job.tag} complete, but {source} holds no files")
