"""Correlation, causation and publish-time headers that every Hauler task message carries."""

from __future__ import annotations

import time
from collections.abc import MutableMapping
from typing import Any

from hauler.redact import redact_text

#: Header naming the unit of work ("this download") every related task shares.
CORRELATION_HEADER = "hauler_correlation_id"
#: Header naming the task that published this one (empty for a root task).
CAUSATION_HEADER = "hauler_causation_id"
#: Header with the publish time (UNIX seconds); the autoscaler reads queue latency from it.
PUBLISHED_AT_HEADER = "hauler_published_at"
#: Longest correlation or causation id kept (the activity and dead-letter columns' width).
MAX_ID = 64


def clean_id(value: Any) -> str | None:
    """A correlation or causation id as Hauler keeps it, whoever sent it; None if unusable.

    The one rule for these headers, applied wherever one is read or stamped: a string or
    a whole number is kept as text without control characters and secrets, cut to 64
    characters; anything else (a list, a mapping, a boolean, an empty string) is no id.
    """
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    text = str(value)
    if not text.isprintable():
        text = "".join(ch for ch in text if ch.isprintable())
    text = text.strip()
    text = redact_text(text)[:MAX_ID]
    return text or None


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
    given = clean_id(headers.get(CORRELATION_HEADER))
    if not given:
        inherited = correlation_header(parent) if parent is not None else None
        given = inherited or clean_id(parent_id) or clean_id(task_id)
    headers[CORRELATION_HEADER] = given
    cause = clean_id(headers.get(CAUSATION_HEADER))
    if not cause and parent_id and parent_id != task_id:
        cause = clean_id(parent_id)
    if cause:
        headers[CAUSATION_HEADER] = cause
    else:
        headers.pop(CAUSATION_HEADER, None)


def request_header(request: Any, name: str) -> Any:
    """Read a custom header from a Celery task request (where Celery versions put it)."""
    value = getattr(request, name, None)
    if value is None:
        value = (getattr(request, "headers", None) or {}).get(name)
    return value


def correlation_header(request: Any) -> str | None:
    """The correlation id header of a task request, cleaned (see :func:`clean_id`)."""
    return clean_id(request_header(request, CORRELATION_HEADER))


def causation_of(request: Any) -> str | None:
    """The causation id header of a task request, cleaned (see :func:`clean_id`)."""
    return clean_id(request_header(request, CAUSATION_HEADER))


def correlation_of(request: Any) -> str | None:
    """The correlation id of a running task: its header, else its root task id."""
    return correlation_header(request) or clean_id(
        getattr(request, "root_id", None) or getattr(request, "id", None)
    )
