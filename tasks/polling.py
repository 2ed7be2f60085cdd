"""Tasks of the ``polling`` queue: ``polling.watch`` and ``polling.poll_clients``."""

from __future__ import annotations

from typing import Any

from celery import current_task

from hauler.downloads.clients.registry import configured_clients
from hauler.recovery import monitoring, settle
from hauler.recovery.recover import Report
from hauler.settings import get_settings
from hauler.transfers.watch import locked_pass
from tasks._ping import queue_ping
from workers.base import hauler_task

ping = queue_ping("polling")


@hauler_task("polling.watch", max_retries=0)
def watch() -> dict[str, Any]:
    """One pass over every configured download client for Hauler's handed-off transfers
    (one at a time: a pass that finds another running returns ``{"skipped": …}``)."""
    return locked_pass(get_settings(), current_task.app)


@hauler_task("polling.poll_clients")
def poll_clients() -> dict[str, Any]:
    """One failure-polling pass over the clients' foreign jobs; settles recoveries whose
    download ended. Returns the jobs seen per client, changes, failures and errors."""
    from tasks.recovery import schedule_again

    settings = get_settings()

    def hand_over(report: Report, correlation: str | None) -> None:
        schedule_again(report.kwargs(), 0.0, correlation)

    summary = monitoring.poll(settings, configured_clients(settings), hand_over)
    result = summary.as_dict()
    result["settled"] = settle.sweep(settings)
    return result
