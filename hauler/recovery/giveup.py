"""Giving up on a Hauler download: :func:`hauler.transfers.finishing.give_up` does it —
the task's result FAILURE (``DownloadFailed`` in the client's words, with the category),
the caller's ``link_error`` errbacks and chord, the staging directory, a dead letter."""

from __future__ import annotations

from hauler.settings import Settings
from hauler.store.transfers_models import Transfer
from hauler.transfers import finishing


def give_up_transfer(settings: Settings, transfer: Transfer, message: str, category: str) -> bool:
    """End ``transfer`` as failed for good, once; False when it was final already."""
    from celery import current_app

    return finishing.give_up(settings, current_app, transfer.id, message, category=category)
