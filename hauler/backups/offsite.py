"""Off-site copies: hand a finished backup to ``uploads.push`` (HAULER_BACKUP_UPLOAD)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from hauler.backups import catalog
from hauler.errors import PermanentError
from hauler.redact import redact_url
from hauler.settings import Settings
from hauler.uploads import service as uploads


def destination(settings: Settings, path: Path) -> str:
    """Where the file goes: the configured URL with the file's name appended."""
    return f"{settings.backups.upload.rstrip('/')}/{path.name}"


def send(settings: Settings, backup: dict[str, Any], publish: Callable[..., Any]) -> dict[str, Any]:
    """Check the upload's arguments now, publish ``uploads.push`` and note it in the catalog.

    Args:
        settings: Hauler's settings (HAULER_BACKUP_UPLOAD set).
        backup: the backup's catalog row as a dict.
        publish: ``apply_async`` of ``uploads.push`` (called with ``args=[path, url]``).

    Returns:
        ``{"destination" (masked), "task_id"}`` or ``{"destination", "error"}`` when the
        upload cannot be made (the backup itself stands).
    """
    path = Path(backup["path"])
    url = destination(settings, path)
    shown = redact_url(url)
    try:
        uploads.validate(settings, str(path), url, False, "PUT")
    except PermanentError as exc:
        return {"destination": shown, "error": str(exc)}
    sent = publish(args=[str(path), url])
    catalog.update(settings, backup["id"], uploaded_to=shown)
    return {"destination": shown, "task_id": str(sent.id)}
