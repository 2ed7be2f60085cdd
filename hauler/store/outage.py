"""Tell a database that cannot be reached from one that refuses what it was given."""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError, SQLAlchemyError


def is_outage(exc: BaseException) -> bool:
    """True when the database is unreachable, as opposed to refusing these rows."""
    if isinstance(exc, OperationalError | InterfaceError):
        return True
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


def is_refusal(exc: BaseException) -> bool:
    """True when the database (or its driver) refused the values themselves."""
    if isinstance(exc, SQLAlchemyError):
        return not is_outage(exc)
    return isinstance(exc, ValueError | TypeError | UnicodeError | OverflowError)
