"""Operations on dead letters that publish: retry one by hand, or all of a kind."""

from __future__ import annotations

from typing import Any, Protocol

from hauler import deadletter, originals, parking
from hauler.correlation import CAUSATION_HEADER, CORRELATION_HEADER
from hauler.errors import InvalidArgument
from hauler.settings import Settings
from hauler.store.models import DeadLetter


class Publisher(Protocol):
    """Publishes a task by name; returns the new task id (``Celery.send_task`` fits)."""

    def __call__(
        self,
        name: str,
        args: list[Any],
        kwargs: dict[str, Any],
        queue: str | None,
        headers: dict[str, Any],
    ) -> str: ...


def retry(settings: Settings, ident: Any, publish: Publisher | None = None) -> dict[str, Any]:
    """Publish dead letter ``ident`` (id or task id) again under its correlation id.

    Raises:
        InvalidArgument: ``ident`` is not an id, or no dead letter has it.
    """
    deadletter.parse_ident(ident)
    parking.drain_quietly(settings)
    letter = deadletter.get(settings.database_url, ident)
    if letter is None:
        raise InvalidArgument("letter", f"no dead letter {ident!r}")
    args, kwargs = _arguments(settings, letter)
    publish = publish or celery_publisher()
    headers = {CORRELATION_HEADER: letter.correlation_id, CAUSATION_HEADER: letter.task_id}
    new_id = publish(letter.task_name, args, kwargs, letter.queue, headers)
    deadletter.mark_retried(settings.database_url, letter.id, new_id)
    return {"letter": letter.id, "task_name": letter.task_name, "task_id": new_id}


def _arguments(settings: Settings, letter: DeadLetter) -> tuple[list[Any], dict[str, Any]]:
    """What to send again: the stored arguments, or the kept originals when those differ."""
    if not letter.arguments_altered:
        return list(letter.args), dict(letter.kwargs)
    kept = originals.load(settings.broker_url, letter.task_id)
    if kept is None:
        days = originals.KEEP_SECONDS // 86400
        raise InvalidArgument(
            "letter",
            f"dead letter {letter.id} was stored with its arguments masked or cut and the "
            f"originals (kept {days} days) are gone; enqueue {letter.task_name} again from "
            "its source",
        )
    return kept


def celery_publisher() -> Publisher:
    """A publisher that sends through Hauler's Celery app."""
    from workers.app import app

    def publish(
        name: str,
        args: list[Any],
        kwargs: dict[str, Any],
        queue: str | None,
        headers: dict[str, Any],
    ) -> str:
        result = app.send_task(name, args=args, kwargs=kwargs, queue=queue, headers=headers)
        return str(result.id)

    return publish
