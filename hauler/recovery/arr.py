"""Sonarr / Radarr v3 API: mark a download they grabbed as failed, so they blocklist the
release and search again (their "failed download handling").

``GET /api/v3/queue`` finds the queue record whose ``downloadId`` is the client's job id
(SABnzbd nzo_id, NZBGet NZBID, qBittorrent info hash — compared without case);
``DELETE /api/v3/queue/{id}?removeFromClient=true&blocklist=true&skipRedownload=true``
blocklists it (Sonarr's QueueController.RemoveAction → FailedDownloadService.MarkAsFailed);
``POST /api/v3/command`` asks for the search again (``EpisodeSearch`` with the record's
``episodeId`` for Sonarr, ``MoviesSearch`` with ``movieId`` for Radarr). The API key goes
in the ``X-Api-Key`` header only: never in a URL, an argument list or a log line.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import requests

from hauler.errors import PermanentError, RetryableError
from hauler.httpstatus import retryable_status
from hauler.recovery.settings import ArrApp
from hauler.redact import redact_text, register_secret

PAGE_SIZE = 200


class ArrUnavailable(RetryableError):
    """Raised when a Sonarr/Radarr does not answer or answers 5xx."""


class ArrRejected(PermanentError):
    """Raised when a Sonarr/Radarr refuses the API key or the request."""


@dataclass(frozen=True)
class Blocklisted:
    """What the app was told."""

    app: str
    queue_id: int
    command: str | None  # the search command asked for, if any
    command_id: int | None


class ArrClient:
    """One Sonarr or Radarr."""

    def __init__(self, app: ArrApp, timeout: float = 10.0) -> None:
        register_secret(app.api_key)
        self.app = app
        self.timeout = timeout
        self.session = requests.Session()
        self.session.headers["X-Api-Key"] = app.api_key

    def find(self, download_id: str) -> dict[str, Any] | None:
        """The queue record of ``download_id``, if this app grabbed it."""
        wanted = download_id.lower()
        page = 1
        while True:
            body = self._call("GET", "queue", params={"page": page, "pageSize": PAGE_SIZE})
            records = body.get("records") or [] if isinstance(body, dict) else []
            for record in records:
                if str(record.get("downloadId") or "").lower() == wanted:
                    return dict(record)
            total = int(body.get("totalRecords") or 0) if isinstance(body, dict) else 0
            if page * PAGE_SIZE >= total or not records:
                return None
            page += 1

    def fail(self, record: dict[str, Any]) -> Blocklisted:
        """Blocklist ``record``'s release, remove it from the client, and search again."""
        queue_id = int(record["id"])
        self._call(
            "DELETE",
            f"queue/{queue_id}",
            params={"removeFromClient": "true", "blocklist": "true", "skipRedownload": "true"},
        )
        command: dict[str, Any] | None = None
        if record.get("episodeId") is not None:
            command = {"name": "EpisodeSearch", "episodeIds": [int(record["episodeId"])]}
        elif record.get("movieId") is not None:
            command = {"name": "MoviesSearch", "movieIds": [int(record["movieId"])]}
        if command is None:
            return Blocklisted(self.app.name, queue_id, None, None)
        answer = self._call("POST", "command", json=command)
        command_id = answer.get("id") if isinstance(answer, dict) else None
        return Blocklisted(
            self.app.name, queue_id, command["name"], int(command_id) if command_id else None
        )

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        url = f"{self.app.url}/api/v3/{path}"
        try:
            response = self.session.request(method, url, timeout=self.timeout, **kwargs)
        except requests.exceptions.RequestException as exc:
            raise ArrUnavailable(
                f"{self.app.name} at {self.app.url} does not answer ({exc.__class__.__name__})"
            ) from None
        if response.status_code in (401, 403):
            raise ArrRejected(
                f"{self.app.name} refused the key in HAULER_ARR_{self.app.name.upper()}_API_KEY"
            )
        if response.status_code >= 400:
            text = redact_text(response.text[:200])
            error = f"{self.app.name} {method} /api/v3/{path}: HTTP {response.status_code} {text}"
            if retryable_status(response.status_code):
                raise ArrUnavailable(error)
            raise ArrRejected(error)
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise ArrRejected(f"{self.app.name} /api/v3/{path} sent no JSON") from None
