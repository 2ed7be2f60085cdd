"""Ask ``hauler up``'s supervisor, through Redis, to restart one of its processes.

The supervisor publishes its children (name, pid, start time) under a key of its
deployment every couple of seconds, and takes restart requests from a list of its
deployment. Only a supervisor of the same deployment (hauler/deployment.py) reads them,
so a health worker of one stack cannot restart another's processes.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
import uuid
from typing import Any, Protocol

import redis

from hauler import heartbeat

log = logging.getLogger(__name__)

#: The supervisor's children, refreshed every PUBLISH_SECONDS (JSON, with a TTL).
CHILDREN_KEY = "hauler:supervisor:{deployment}:children"
#: Restart requests (JSON, one per entry) the supervisor pops.
REQUESTS_KEY = "hauler:supervisor:{deployment}:restart"
PUBLISH_SECONDS = 2.0
CHILDREN_TTL = 15  # seconds: a supervisor silent for longer is taken as gone
REQUEST_TTL = 300  # seconds an unread request list lives (a supervisor that is gone)


class Supervised(Protocol):
    """What the control needs of a supervisor."""

    def describe(self) -> dict[str, dict[str, Any]]:
        """Child name → {pid, started_at, restarts}."""
        ...

    def restart(self, name: str) -> bool:
        """Restart child ``name``; False if there is none."""
        ...


def request_restart(client: redis.Redis, deployment: str, child: str) -> str:
    """Ask the supervisor of ``deployment`` to restart ``child``; return the request id."""
    ident = uuid.uuid4().hex[:12]
    key = REQUESTS_KEY.format(deployment=deployment)
    payload = json.dumps({"id": ident, "child": child, "at": time.time()})
    with client.pipeline() as pipe:
        pipe.lpush(key, payload)
        pipe.expire(key, REQUEST_TTL)
        pipe.execute()
    return ident


def children(client: redis.Redis, deployment: str) -> dict[str, dict[str, Any]] | None:
    """The children a live supervisor of ``deployment`` published, or None (no supervisor)."""
    value = heartbeat.document(client, CHILDREN_KEY.format(deployment=deployment))
    found = value.get("children") if value is not None else None
    return found if isinstance(found, dict) else None


class SupervisorControl:
    """The supervisor's side: publish the children, act on restart requests."""

    def __init__(self, client: redis.Redis, deployment: str) -> None:
        self.client = client
        self.children_key = CHILDREN_KEY.format(deployment=deployment)
        self.requests_key = REQUESTS_KEY.format(deployment=deployment)
        self._published = 0.0
        self._failing = False

    def sync(self, supervisor: Supervised) -> None:
        """Handle waiting requests, and publish the children when it is time; never raises."""
        try:
            while (raw := self.client.rpop(self.requests_key)) is not None:
                self._handle(supervisor, raw)  # type: ignore[arg-type]  # one, not a list
            if time.monotonic() - self._published >= PUBLISH_SECONDS:
                self.publish(supervisor)
            self._failing = False
        except redis.RedisError as exc:
            if not self._failing:
                log.warning("supervisor control: Redis unavailable (%s)", exc)
            self._failing = True

    def publish(self, supervisor: Supervised) -> None:
        value = {"at": time.time(), "children": supervisor.describe()}
        self.client.set(self.children_key, json.dumps(value), ex=CHILDREN_TTL)
        self._published = time.monotonic()

    def _handle(self, supervisor: Supervised, raw: bytes | str) -> None:
        try:
            request = json.loads(raw)
            name = str(request["child"])
        except (ValueError, KeyError, TypeError):
            log.warning("supervisor control: unreadable request %r dropped", raw[:200])
            return
        if supervisor.restart(name):
            log.warning("supervisor control: restarting %s (request %s)", name, request.get("id"))
            self.publish(supervisor)
        else:
            log.warning("supervisor control: no child %r to restart", name)

    def close(self) -> None:
        """Withdraw the children (the supervisor is stopping)."""
        with contextlib.suppress(redis.RedisError):
            self.client.delete(self.children_key)
