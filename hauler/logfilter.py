"""A logging filter that masks secrets in every record, its arguments and its traceback."""

from __future__ import annotations

import logging
import traceback

from hauler.clip import text
from hauler.redact import redact_text

#: Longest log message kept (a task called with a megabyte must not log a megabyte).
MAX_MESSAGE = 8000


class RedactingFilter(logging.Filter):
    """Rewrites each record so that no handler sees a secret (or an endless message)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: log what there is
            message = f"{record.msg!r} {record.args!r}"
        record.msg = text(redact_text(message), MAX_MESSAGE)
        record.args = None
        if record.exc_info and not record.exc_text:
            formatted = "".join(traceback.format_exception(*record.exc_info)).rstrip()
            record.exc_text = text(redact_text(formatted), MAX_MESSAGE * 2)
        elif record.exc_text:
            record.exc_text = redact_text(record.exc_text)
        if record.stack_info:
            record.stack_info = redact_text(record.stack_info)
        return True


_FILTER = RedactingFilter()


def install(logger: logging.Logger | None = None) -> None:
    """Add the filter to every handler of ``logger`` (default: the root logger), once.

    Handlers, not the logger: records that propagate from child loggers pass only the
    handlers' filters.
    """
    target = logger or logging.getLogger()
    for handler in target.handlers:
        if _FILTER not in handler.filters:
            handler.addFilter(_FILTER)
