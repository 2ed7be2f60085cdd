"""Tasks of the ``backups`` queue: ``backups.run``, ``.verify``, ``.prune``, ``.vacuum``."""

from __future__ import annotations

from typing import Any

from hauler import activity
from hauler.backups import catalog, offsite, service
from hauler.errors import InvalidArgument
from hauler.settings import get_settings
from tasks._ping import queue_ping
from workers.base import hauler_task

ping = queue_ping("backups")


@hauler_task("backups.run")
def run(verify: bool | None = None, upload: bool | None = None) -> dict[str, Any]:
    """Back up Hauler's database, verify it (default on) and send it off-site if configured."""
    settings = get_settings()
    verify = _flag(verify, "verify", settings.backups.verify_after_run)
    upload = _flag(upload, "upload", bool(settings.backups.upload))
    result = service.run(settings, emit=activity.emit)
    if verify:
        result = service.verify(settings, result["id"], emit=activity.emit)
    if upload and result["status"] != "bad":
        from tasks.uploads import push

        result["upload"] = offsite.send(settings, result, push.apply_async)
    return result


@hauler_task("backups.verify")
def verify(backup_id: int | None = None) -> dict[str, Any]:
    """Prove a backup restores (default: the newest); marks it verified or bad."""
    settings = get_settings()
    if backup_id is None:
        newest = catalog.latest(settings)
        if newest is None:
            raise InvalidArgument("backup_id", "the catalog holds no backup yet")
        backup_id = newest.id
    return service.verify(settings, backup_id, emit=activity.emit)


@hauler_task("backups.prune")
def prune(dry_run: bool = False) -> dict[str, Any]:
    """Delete the backups the retention policy does not keep (HAULER_BACKUP_KEEP_*)."""
    return service.prune(
        get_settings(), dry_run=_flag(dry_run, "dry_run", False), emit=activity.emit
    )


@hauler_task("backups.vacuum")
def vacuum() -> dict[str, Any]:
    """VACUUM (ANALYZE) Hauler's PostgreSQL tables, or VACUUM its SQLite file."""
    return service.vacuum(get_settings())


def _flag(value: Any, argument: str, default: bool) -> bool:
    if value is None:
        return default
    if not isinstance(value, bool):
        raise InvalidArgument(argument, "must be true or false")
    return value
