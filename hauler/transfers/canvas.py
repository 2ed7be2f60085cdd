"""A handed-off task's place in its caller's canvas: captured at hand-off, continued at the end.

``downloads.fetch`` with an external client raises ``Ignore`` after handing the job
over, so its worker neither stores a result nor starts what follows it. What follows
lives in the request: a ``chain`` (the steps after it), ``link`` callbacks, ``link_error``
errbacks, and ``group``/``chord`` membership. :func:`capture` keeps those (JSON, as the
message carried them) on the transfer row; :func:`succeed` and :func:`fail` do later,
from the watch, what Celery 5's worker does in ``celery/app/trace.py``:

- success: the ``link`` callbacks and the next ``chain`` step are published with the
  result as their first argument (``_dispatch_callbacks_and_chain``: callbacks first,
  several as one group; then ``chain[-1]`` with ``chain=chain[:-1]``; ``parent_id`` is
  the task, ``root_id`` its root), then ``backend.mark_as_done`` stores SUCCESS and
  counts the chord part (``on_chord_part_return``).
- failure: ``backend.mark_as_failure(..., call_errbacks=True)`` stores FAILURE, counts
  the chord part, fails the rest of the chain and calls the errbacks
  (``_call_task_errbacks``: a foreign errback is published with the task id).
"""

from __future__ import annotations

from typing import Any

from celery import Celery, group, signature
from celery.app.task import Context

#: Request fields kept: enough for the result backend and the canvas.
FIELDS = (
    "id",
    "task",
    "root_id",
    "parent_id",
    "group",
    "group_index",
    "chord",
    "chain",
    "callbacks",
    "errbacks",
    "reply_to",
    "correlation_id",
    "ignore_result",
    "retries",
    "hostname",
)


def capture(request: Any, kwargs: dict[str, Any] | None = None) -> dict[str, Any]:
    """The parts of a running task's ``request`` its continuation needs (JSON-safe).

    Args:
        request: ``task.request`` of the task being handed off.
        kwargs: the task's keyword arguments as results may show them (no secrets).
    """
    kept = {name: getattr(request, name, None) for name in FIELDS}
    delivery = getattr(request, "delivery_info", None) or {}
    kept["delivery_info"] = {
        "routing_key": delivery.get("routing_key"),
        "priority": delivery.get("priority"),
        "is_eager": False,
    }
    kept["args"] = []
    kept["kwargs"] = dict(kwargs or {})
    return kept


def context(canvas: dict[str, Any]) -> Context:
    """A request Context the result backend accepts, from a captured canvas."""
    return Context(dict(canvas))


def succeed(
    app: Celery,
    canvas: dict[str, Any],
    task_id: str,
    result: Any,
    headers: dict[str, Any] | None = None,
) -> None:
    """Store ``result`` as the task's SUCCESS and continue its canvas, as a worker would
    (``headers``: the correlation and causation ids the next tasks carry)."""
    request = context(canvas)
    request.id = task_id
    root_id = canvas.get("root_id") or task_id
    priority = (canvas.get("delivery_info") or {}).get("priority")
    callbacks = canvas.get("callbacks") or []
    chain = canvas.get("chain") or []
    options: dict[str, Any] = {"parent_id": task_id, "root_id": root_id, "priority": priority}
    if headers:
        options["headers"] = headers
    if len(callbacks) > 1:
        sigs: list[Any] = []
        groups: list[Any] = []
        for raw in callbacks:
            sig = signature(raw, app=app)
            (groups if isinstance(sig, group) else sigs).append(sig)
        for each in groups:
            each.apply_async((result,), **options)
        if sigs:
            group(sigs, app=app).apply_async((result,), **options)
    elif callbacks:
        signature(callbacks[0], app=app).apply_async((result,), **options)
    if chain:
        signature(chain[-1], app=app).apply_async((result,), chain=chain[:-1], **options)
    app.backend.mark_as_done(task_id, result, request=request)


def fail(app: Celery, canvas: dict[str, Any], task_id: str, exc: BaseException) -> None:
    """Store ``exc`` as the task's FAILURE and fail its canvas (errbacks, chord, chain)."""
    request = context(canvas)
    request.id = task_id
    app.backend.mark_as_failure(task_id, exc, traceback=None, request=request, call_errbacks=True)
