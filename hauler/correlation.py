"""Correlation, causation and publish-time headers that every Hauler task message carries."""

from __future__ import annotations

import time
from collections.abc import MutableMapping
from typing import Any

#: Header naming the unit of work ("this download") every related task shares.
CORRELATION_HEADER = "hauler_correlation_id"
#: Header naming the task that published this one (empty for a root task).
CAUSATION_HEADER = "hauler_causation_id"
#: Header with the publish time (UNIX seconds); the autoscaler reads queue latency from it.
PUBLISHED_AT_HEADER = "hauler_published_at"


def stamp_headers(headers: MutableMapping[str, Any], parent: Any | None) -> None:
    """Fill the Hauler headers of a message about to be published.

    A correlation id given by the caller is kept; otherwise it is inherited from the
    publishing task, or a root task starts its own (its task id). The causation id is
    the publishing task's id, except when a task re-publishes itself (a retry).

    Args:
        headers: the message headers (protocol 2); ``headers["id"]`` is the task id.
        parent: the request of the task that is publishing, or None outside a task.
    """
    task_id = headers.get("id")
    headers[PUBLISHED_AT_HEADER] = time.time()
    parent_id = getattr(parent, "id", None) if parent is not None else None
    if not headers.get(CORRELATION_HEADER):
        inherited = request_header(parent, CORRELATION_HEADER) if parent is not None else None
        headers[CORRELATION_HEADER] = inherited or parent_id or task_id
    if not headers.get(CAUSATION_HEADER) and parent_id and parent_id != task_id:
        headers[CAUSATION_HEADER] = parent_id


def request_header(request: Any, name: str) -> Any:
    """Read a custom header from a Celery task request (where Celery versions put it)."""
    value = getattr(request, name, None)
    if value is None:
        value = (getattr(request, "headers", None) or {}).get(name)
    return value


def correlation_of(request: Any) -> str | None:
    """The correlation id of a running task: its header, else its root task id."""
    value = request_header(request, CORRELATION_HEADER)
    return (
        str(value) if value else getattr(request, "root_id", None) or getattr(request, "id", None)
    )
