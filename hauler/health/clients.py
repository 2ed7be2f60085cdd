"""Probe of each configured download client: does it answer, and is it in client-level backoff."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass

from hauler.downloads.clients.base import DownloadClient
from hauler.downloads.clients.registry import configured_clients
from hauler.health.context import ProbeContext
from hauler.health.document import Observation, Status
from hauler.settings import Settings

KEY = "downloadClient:up"
IN_PROCESS = "http"  # Hauler's own HTTP client: nothing to ask


@dataclass(frozen=True)
class ClientBackoff:
    """A client that failed too often and is being left alone until ``until`` (UNIX s)."""

    until: float
    reason: str = ""


def client_backoff(settings: Settings, client: str) -> ClientBackoff | None:
    """The client-level backoff ``client`` is in now, or None.

    The seam for the download-failure recovery (branch ``recover``) which keeps that
    state; until it is merged, no client is ever in backoff here.
    """
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
        backoff = client_backoff(ctx.settings, name)
        if up and backoff is not None and backoff.until > ctx.now:
            status = Status.WARN
            output = f"in backoff for {backoff.until - ctx.now:.0f} s more: {backoff.reason}"
        found.append(Observation(KEY, status, up, "boolean", output, name))
    return found


def _answers(client: DownloadClient) -> tuple[bool, str]:
    try:
        up = client.healthy()
    except Exception as exc:  # a probe reports; it never raises
        return False, f"{type(exc).__name__}: {exc}"
    return up, "" if up else "does not answer (down, or refusing Hauler's credentials)"
