"""One recovery per download at a time: a Redis lock with a lease, released by its owner."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import redis

KEY = "hauler:recovery:lock:{subject}"
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""


@contextmanager
def held(store: redis.Redis, subject: str, lease: int) -> Iterator[bool]:
    """Try to take the lock of ``subject`` (e.g. ``transfer:12``); yield whether it is ours.

    The lease bounds how long a crashed holder blocks the download; only the owner's
    token releases it.
    """
    key = KEY.format(subject=subject)
    token = uuid.uuid4().hex
    ours = bool(store.set(key, token, nx=True, ex=lease))
    try:
        yield ours
    finally:
        if ours:
            store.eval(_RELEASE, 1, key, token)
