"""Hauler's queues (one per kind of work, from QUEUE_DEFAULTS) and how task names route to them."""

from __future__ import annotations

from hauler.env import QUEUE_DEFAULTS
from hauler.errors import ConfigurationError

#: Every queue Hauler declares, in the order `hauler up` starts their workers.
QUEUES: tuple[str, ...] = tuple(QUEUE_DEFAULTS)

#: Where a message published without a queue lands (Celery's default name). The health
#: worker also consumes it and forwards each message to its task's own queue.
DEFAULT_QUEUE = "celery"

#: Task-name prefix → queue. A task name is "<prefix>.<verb>", e.g. "downloads.fetch".
PREFIX_ROUTES: dict[str, str] = {name: name for name in QUEUES} | {"reports": "maintenance"}


def queue_for(task_name: str) -> str:
    """Return the queue a task name routes to.

    Raises:
        ConfigurationError: the name's prefix routes to no declared queue.
    """
    prefix = task_name.split(".", 1)[0]
    try:
        return PREFIX_ROUTES[prefix]
    except KeyError:
        known = ", ".join(sorted(PREFIX_ROUTES))
        raise ConfigurationError(
            [f"task {task_name!r}: prefix {prefix!r} routes to no queue (known: {known})"]
        ) from None


def check_queue(queue: str) -> str:
    """Return ``queue`` if it is declared, else raise ConfigurationError."""
    if queue not in QUEUES:
        raise ConfigurationError([f"queue {queue!r} is not declared (known: {', '.join(QUEUES)})"])
    return queue


def task_routes() -> dict[str, dict[str, str]]:
    """Celery's ``task_routes``: a glob per task-name prefix."""
    return {f"{prefix}.*": {"queue": queue} for prefix, queue in PREFIX_ROUTES.items()}
