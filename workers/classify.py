"""Which exceptions are worth a retry, and why a task ended up dead-lettered."""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded, TimeLimitExceeded

from hauler.errors import InvalidArgument, PermanentError, RetryableError


def _transient_types() -> tuple[type[BaseException], ...]:
    import redis.exceptions
    import requests.exceptions
    import sqlalchemy.exc

    return (
        RetryableError,
        ConnectionError,
        TimeoutError,
        redis.exceptions.ConnectionError,
        redis.exceptions.TimeoutError,
        requests.exceptions.ConnectionError,
        requests.exceptions.Timeout,
        sqlalchemy.exc.OperationalError,
    )


TRANSIENT: tuple[type[BaseException], ...] = _transient_types()


def is_retryable(exc: BaseException, extra: tuple[type[BaseException], ...] = ()) -> bool:
    """True for transient failures (network, timeouts, busy peers); never for permanent ones."""
    if isinstance(exc, PermanentError):
        return False
    return isinstance(exc, TRANSIENT + extra)


def failure_reason(exc: BaseException, extra: tuple[type[BaseException], ...] = ()) -> str:
    """Why a task failed for good: permanent, exhausted, timeout or unexpected."""
    if isinstance(exc, PermanentError):
        return "permanent"
    if isinstance(exc, SoftTimeLimitExceeded | TimeLimitExceeded):
        return "timeout"
    if is_retryable(exc, extra):
        return "exhausted"
    return "unexpected"


def check_arguments(
    signature: inspect.Signature, args: Sequence[Any], kwargs: Mapping[str, Any]
) -> None:
    """Raise InvalidArgument naming the argument when ``args``/``kwargs`` do not fit."""
    parameters = signature.parameters
    accepts_var_kw = any(p.kind is p.VAR_KEYWORD for p in parameters.values())
    for key in kwargs:
        if key not in parameters and not accepts_var_kw:
            raise InvalidArgument(key, "unexpected argument")
    try:
        signature.bind(*args, **kwargs)
    except TypeError as exc:
        given = set(kwargs) | {p.name for p in _positional(parameters.values())[: len(args)]}
        for name, p in parameters.items():
            required = p.default is p.empty and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
            if required and name not in given:
                raise InvalidArgument(name, "missing required argument") from None
        raise InvalidArgument("args", str(exc)) from None


def _positional(parameters: Any) -> list[inspect.Parameter]:
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return [p for p in parameters if p.kind in kinds]
