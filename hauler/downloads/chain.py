"""``then=``: what runs after a download, as a Celery chain under the same correlation id.

Each step is a Celery signature as a dict (``celery.signature("media.sprite").as_dict()``
or plain ``{"task": "media.sprite", "kwargs": {...}}``). The first step gets the
downloaded file's path as its first argument; each later step gets the previous step's
result, as in any Celery chain.
"""

from __future__ import annotations

from typing import Any

from hauler.errors import InvalidArgument

MAX_STEPS = 10


def validate_then(then: Any) -> list[dict[str, Any]]:
    """The steps, checked: a list of dicts, each naming a task."""
    if then is None:
        return []
    if not isinstance(then, list) or len(then) > MAX_STEPS:
        raise InvalidArgument("then", f"must be a list of at most {MAX_STEPS} signatures")
    for step in then:
        if not isinstance(step, dict) or not isinstance(step.get("task"), str):
            raise InvalidArgument("then", "each step must be a signature dict with a 'task' name")
        if not isinstance(step.get("args") or [], list | tuple):
            raise InvalidArgument("then", f"step {step['task']}: 'args' must be a list")
        if not isinstance(step.get("kwargs") or {}, dict):
            raise InvalidArgument("then", f"step {step['task']}: 'kwargs' must be an object")
        if not isinstance(step.get("options") or {}, dict):
            raise InvalidArgument("then", f"step {step['task']}: 'options' must be an object")
    return then


def start_chain(
    steps: list[dict[str, Any]], path: str, headers: dict[str, Any] | None = None
) -> str:
    """Publish the chain; return its id.

    From inside the running task the correlation and causation ids are inherited; the
    watch, finishing a handed-off download, passes them as ``headers``.
    """
    from celery import chain, signature

    signatures = [
        signature(
            step["task"],
            args=tuple(step.get("args") or ()),
            kwargs=dict(step.get("kwargs") or {}),
            options=dict(step.get("options") or {}),
        )
        for step in steps
    ]
    signatures[0] = signatures[0].clone(args=(path, *signatures[0].args))
    result = (
        chain(*signatures).apply_async(headers=headers)
        if headers
        else chain(*signatures).apply_async()
    )
    return str(result.id)
