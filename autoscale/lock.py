"""One active autoscaler at a time: a Redis lock with a lease that the leader renews."""

from __future__ import annotations

import socket
import uuid

import redis

KEY = "hauler:autoscaler:leader"

_RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then
    return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
"""
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
    return redis.call('del', KEYS[1])
end
return 0
"""


class LeaderLock:
    """Held by whoever set it last; it expires ``lease`` seconds after the last renewal."""

    def __init__(self, client: redis.Redis, lease: float, key: str = KEY) -> None:
        self.client = client
        self.key = key
        self.lease_ms = int(lease * 1000)
        self.identity = f"{socket.gethostname()}:{uuid.uuid4().hex[:12]}"

    def acquire(self) -> bool:
        """Take the lock if it is free; True if this instance now leads."""
        return bool(self.client.set(self.key, self.identity, nx=True, px=self.lease_ms))

    def renew(self) -> bool:
        """Extend the lease; False if the lock was lost (expired and taken by another)."""
        return bool(self.client.eval(_RENEW, 1, self.key, self.identity, self.lease_ms))

    def release(self) -> None:
        """Give the lock up, if this instance still holds it."""
        self.client.eval(_RELEASE, 1, self.key, self.identity)

    def holder(self) -> str | None:
        value = self.client.get(self.key)
        if isinstance(value, bytes):
            return value.decode()
        return str(value) if value else None
