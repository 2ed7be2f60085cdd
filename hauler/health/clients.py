"""Probe of each configured download client: does it answer; is it out of selection (backoff)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass

import redis

from hauler.downloads import client_pause
from hauler.downloads.client_backoff import Backoffs
from hauler.downloads.clients.base import DownloadClient
from hauler.downloads.clients.registry import configured_clients
from hauler.health.context import ProbeContext
from hauler.health.document import Observation, Status

KEY = "downloadClient:up"
IN_PROCESS = "http"  # Hauler's own HTTP client: nothing to ask


@dataclass(frozen=True)
class ClientBackoff:
    """A client kept out of selection until ``until`` (UNIX s; None: until it has room)."""

    until: float | None
    reason: str = ""


def client_backoff(client: redis.Redis, name: str, now: float) -> ClientBackoff | None:
    """The client-level backoff (hauler/downloads/client_backoff.py) or disk-full pause
    (client_pause.py) that keeps client ``name`` out of selection now, or None."""
    state = Backoffs(client).get(name)
    if state.out(now):
        reason = f"backoff level {state.level} after repeated failures"
        return ClientBackoff(state.disabled_until, reason)
    held = client_pause.paused(client, name)
    if held is not None:
        return ClientBackoff(None, f"paused: {held.get('reason', 'paused')}")
    return None


def download_clients(ctx: ProbeContext) -> list[Observation]:
    """``downloadClient:up`` per configured external client (aria2, qBittorrent, ...)."""
    clients = [c for c in configured_clients(ctx.settings) if c.name != IN_PROCESS]
    if not clients:
        return []
    timeout = ctx.health.probe_timeout
    pool = ThreadPoolExecutor(max_workers=len(clients), thread_name_prefix="health-client")
    try:
        futures = {c.name: pool.submit(_answers, c) for c in clients}
        wait(futures.values(), timeout=timeout)
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    found = []
    for name, future in futures.items():
        if not future.done():
            up, output = False, f"no answer within {timeout:g} s"
        else:
            up, output = future.result()
        status = Status.PASS if up else Status.FAIL
        try:
            backoff = client_backoff(ctx.redis, name, ctx.now)
        except redis.RedisError as exc:
            backoff = ClientBackoff(None, f"backoff state unreadable: {exc}")
        if up and backoff is not None:
            status = Status.WARN
            left = f" for {backoff.until - ctx.now:.0f} s more" if backoff.until else ""
            output = f"out of selection{left}: {backoff.reason}"
        found.append(Observation(KEY, status, up, "boolean", output, name))
    return found


def _answers(client: DownloadClient) -> tuple[bool, str]:
    try:
        up = client.healthy()
    except Exception as exc:  # a probe reports; it never raises
        return False, f"{type(exc).__name__}: {exc}"
    return up, "" if up else "does not answer (down, or refusing Hauler's credentials)"
