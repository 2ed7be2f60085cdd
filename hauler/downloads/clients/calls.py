"""Counting the HTTP requests a client makes (one watch pass should make one or two)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import requests


def sessions_of(client: Any) -> list[requests.Session]:
    """The ``requests`` sessions a client talks through (its own, or its API object's)."""
    found = []
    for holder in (client, getattr(client, "rpc", None), getattr(client, "api", None)):
        session = getattr(holder, "session", None)
        if isinstance(session, requests.Session) and session not in found:
            found.append(session)
    return found


class Calls:
    """The number of HTTP responses seen while counting."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        self.count += 1


@contextmanager
def counting(client: Any) -> Iterator[Calls]:
    """Count every HTTP request ``client`` makes inside the block (a response hook)."""
    calls = Calls()
    sessions = sessions_of(client)
    for session in sessions:
        session.hooks.setdefault("response", []).append(calls)
    try:
        yield calls
    finally:
        for session in sessions:
            hooks = session.hooks.get("response", [])
            if calls in hooks:
                hooks.remove(calls)
