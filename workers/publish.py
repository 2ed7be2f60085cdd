"""Hauler's publishing path: every message of Hauler's app stamped and announced ``task-sent``.

Celery's publish signals cannot tell which app publishes (``sender`` is a task name any
app may send, and no app or producer is passed), so Hauler hooks its own app's publishing
object instead: ``HaulerAMQP`` is the app's ``amqp`` class, set by ``workers.signals.connect``.
Another Celery app in the same process publishes untouched.
"""

from __future__ import annotations

from typing import Any

from celery import current_task
from celery.app.amqp import AMQP
from kombu.utils.objects import cached_property

from hauler.correlation import CAUSATION_HEADER, CORRELATION_HEADER, stamp_headers
from workers.sent_events import SentEvents

#: Message headers copied into the ``task-sent`` event (event field ← header).
SENT_FIELDS: dict[str, str] = {
    "uuid": "id",
    "root_id": "root_id",
    "parent_id": "parent_id",
    "retries": "retries",
    "eta": "eta",
    "expires": "expires",
    "correlation_id": CORRELATION_HEADER,
    "causation_id": CAUSATION_HEADER,
}


def sent_event(name: str, headers: dict[str, Any]) -> dict[str, Any]:
    """The ``task-sent`` fields of a stamped message; Celery adds queue, exchange, routing key."""
    fields = {field: headers.get(header) for field, header in SENT_FIELDS.items()}
    fields["name"] = name
    fields["retries"] = fields["retries"] or 0
    return fields


class HaulerAMQP(AMQP):
    """Celery's AMQP object for Hauler's app: stamps headers, announces sends in batches."""

    @cached_property
    def send_task_message(self) -> Any:
        send = self._create_task_sender()

        def send_stamped(producer: Any, name: str, message: Any, **options: Any) -> Any:
            headers = message.headers
            if "id" not in headers:  # task protocol 1: not Hauler's
                return send(producer, name, message, **options)
            extra = options.pop("headers", None)
            if extra:  # the caller's headers first, as Celery merges them, so theirs are kept
                headers.update(extra)
            stamp_headers(headers, current_task.request if current_task else None)
            announced = message._replace(sent_event=sent_event(name, headers))
            return send(producer, name, announced, **options)

        return send_stamped

    @cached_property
    def sent_events(self) -> SentEvents:
        """The app's ``task-sent`` publisher: batched, one thread per process."""
        return SentEvents(self.app)

    @cached_property
    def _event_dispatcher(self) -> SentEvents:
        """Where Celery's sender publishes the ``task-sent`` event of each message."""
        return self.sent_events
