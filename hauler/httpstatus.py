"""What an HTTP status or a ``requests`` error means: retryable or permanent, in one place.

Every client of another program (downloads, NZB fetches, uploads, the peer programs'
APIs) asks here, so they agree: 408 (request timeout), 425 (too early), 429 (too many
requests) and every 5xx are worth another try; other 4xx are not; a connection that
could not be made or timed out is worth another try, any other ``requests`` error (a bad
URL, too many redirects, an invalid header) is not.
"""

from __future__ import annotations

import requests

from hauler.errors import HaulerError, PermanentError, RetryableError

#: 4xx statuses that say "not now" rather than "never".
RETRYABLE_4XX = frozenset({408, 425, 429})
#: ``requests`` errors that say the other side could not be reached in time.
UNREACHABLE = (requests.exceptions.ConnectionError, requests.exceptions.Timeout)


def retryable_status(status: int) -> bool:
    """True for an error status worth trying again: 408, 425, 429 and 5xx."""
    return status in RETRYABLE_4XX or status >= 500


def status_error(
    status: int,
    text: str,
    *,
    retryable: type[HaulerError] = RetryableError,
    permanent: type[HaulerError] = PermanentError,
) -> HaulerError | None:
    """None for a status below 400; else ``retryable(text)`` or ``permanent(text)``."""
    if status < 400:
        return None
    return retryable(text) if retryable_status(status) else permanent(text)


def request_error(
    exc: requests.exceptions.RequestException,
    text: str,
    *,
    retryable: type[HaulerError] = RetryableError,
    permanent: type[HaulerError] = PermanentError,
) -> HaulerError:
    """``retryable(text)`` when ``exc`` is a connection failure or a timeout, else
    ``permanent(text)``."""
    return retryable(text) if isinstance(exc, UNREACHABLE) else permanent(text)
