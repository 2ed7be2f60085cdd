"""Hand a download to another source: the next of its ``mirrors`` (another URL, NZB or
magnet of the same content), through whichever hand-off client suits that link.

The transfer keeps its task, tag and work directory; its URL becomes the mirror's and
the watch follows the new job. The finished content is checked against the download's
``sha256`` (when given) by the watch, as for the first source.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import update

from hauler import broker
from hauler.downloads import links, selection
from hauler.downloads.clients.base import DownloadClient, Job, hands_off
from hauler.settings import Settings
from hauler.store.db import session_scope
from hauler.store.transfers_models import Transfer
from hauler.transfers import store as transfers


def hand_mirror(
    settings: Settings, transfer: Transfer, mirror: str, clients: list[DownloadClient]
) -> tuple[str, str]:
    """Submit ``mirror`` for ``transfer``; (the client's job id, the client's name).

    Raises:
        Unsupported / ClientUnavailable: no hand-off client takes the mirror now.
        ClientFailed: the chosen client refuses it.
    """
    link = links.classify(mirror)
    candidates = [c for c in clients if hands_off(c)]
    store = broker.shared(settings.broker_url)
    chosen, _reason = selection.choose(link, candidates, "auto", store)
    assert hands_off(chosen)
    job = Job(
        link,
        Path(transfer.workdir),
        tag=transfer.tag,
        max_bytes=transfer.max_bytes,
        filename=transfer.filename,
    )
    submitted = chosen.submit(job)
    used = list((transfer.details or {}).get("mirrors_used") or [])
    details = {**(transfer.details or {}), "mirrors_used": [*used, mirror], **submitted.details}
    with session_scope(settings.database_url) as session:
        session.execute(
            update(Transfer)
            .where(Transfer.id == transfer.id, Transfer.state.not_in(list(transfers.FINAL)))
            .values(url=mirror, shown=link.shown, details=details)
        )
    return submitted.job_id, chosen.name
