"""Choosing a client: affinity first, then health, load and recent success rate.

Per-client figures live in Redis so every worker sees the same picture:
``hauler:downloads:client:<name>`` is a hash with ``active`` (transfers now),
``ok`` and ``failed`` (outcomes, decayed by halving past 100). A client in backoff
(``client_backoff``) or paused for a full disk (``client_pause``) is out of selection.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import redis

from hauler.downloads import client_backoff, client_pause
from hauler.downloads.clients.base import Affinity, ClientUnavailable, DownloadClient
from hauler.downloads.links import Link
from hauler.errors import InvalidArgument, PermanentError, Unsupported

KEY = "hauler:downloads:client:{name}"


@dataclass(frozen=True)
class Figures:
    """What Redis knows of one client."""

    active: int = 0
    ok: int = 0
    failed: int = 0

    @property
    def success_rate(self) -> float:
        """(ok + 1) / (ok + failed + 2): a client with no history starts at one half."""
        return (self.ok + 1) / (self.ok + self.failed + 2)


def figures(client: redis.Redis, name: str) -> Figures:
    raw = client.hgetall(KEY.format(name=name))
    values = {(k.decode() if isinstance(k, bytes) else str(k)): int(v) for k, v in raw.items()}
    return Figures(values.get("active", 0), values.get("ok", 0), values.get("failed", 0))


def score(affinity: Affinity, healthy: bool, stats: Figures) -> tuple[int, int, float, int]:
    """Sort key, best first when sorted descending: affinity, health, success, idleness."""
    return (int(affinity), int(healthy), round(stats.success_rate, 2), -stats.active)


def out_of_selection(store: redis.Redis, name: str, now: float | None = None) -> str | None:
    """Why client ``name`` takes no new jobs now (backoff or a pause), or None."""
    moment = time.time() if now is None else now
    pause = client_pause.paused(store, name)
    if pause is not None:
        return f"{name} is paused ({pause.get('reason', 'paused')})"
    state = client_backoff.Backoffs(store).get(name)
    if state.out(moment):
        return f"{name} is backed off for {state.remaining(moment):.0f}s more (level {state.level})"
    return None


def choose(
    link: Link, clients: Sequence[DownloadClient], client_name: str, store: redis.Redis
) -> tuple[DownloadClient, str]:
    """The client for ``link`` and a one-line reason.

    Raises:
        InvalidArgument: ``client_name`` names no configured client or one that cannot
            handle the link.
        Unsupported: no configured client handles this kind of link.
        ClientUnavailable: the client (or every client that could) is backed off or paused.
    """
    if client_name != "auto":
        named = [c for c in clients if c.name == client_name]
        if not named:
            names = ", ".join(c.name for c in clients)
            raise InvalidArgument(
                "client", f"{client_name!r} is not configured (have: {names}, auto)"
            )
        if named[0].affinity(link) is Affinity.INCOMPATIBLE:
            raise InvalidArgument(
                "client", f"{client_name} cannot download {link.kind.value} links"
            )
        why = out_of_selection(store, client_name)
        if why:
            raise ClientUnavailable(why)
        return named[0], f"{client_name} requested"
    ranked = []
    left_out: list[str] = []
    for candidate in clients:
        affinity = candidate.affinity(link)
        if affinity is Affinity.INCOMPATIBLE:
            continue
        why = out_of_selection(store, candidate.name)
        if why:
            left_out.append(why)
            continue
        stats = figures(store, candidate.name)
        ranked.append((score(affinity, candidate.healthy(), stats), candidate, affinity, stats))
    if not ranked and left_out:
        raise ClientUnavailable("; ".join(left_out))
    if not ranked:
        raise Unsupported(f"no configured client downloads {link.kind.value} links")
    ranked.sort(key=lambda item: item[0], reverse=True)
    best, chosen, affinity, stats = ranked[0]
    healthy = "healthy" if best[1] else "UNHEALTHY"
    reason = (
        f"{affinity.name.lower()} for {link.kind.value}, {healthy}, {stats.active} active, "
        f"success {stats.success_rate:.0%} (of {len(ranked)} candidates)"
    )
    return chosen, reason


@contextmanager
def track(store: redis.Redis, name: str) -> Iterator[None]:
    """Count an active transfer while the block runs, then its outcome.

    A permanent error (a bad link, a missing file) says nothing of the client and is not
    counted against it; anything else that escapes is a failure of the client.
    """
    begin(store, name)
    outcome: str | None = "failed"
    try:
        yield
        outcome = "ok"
    except PermanentError:
        outcome = None
        raise
    finally:
        end(store, name, outcome)
        if outcome:
            client_backoff.note_call(store, name, outcome == "ok")


def begin(store: redis.Redis, name: str) -> None:
    """A transfer through ``name`` started (a streamed one, or one handed to the client)."""
    store.hincrby(KEY.format(name=name), "active", 1)


def end(store: redis.Redis, name: str, outcome: str | None) -> None:
    """A transfer through ``name`` ended: ``"ok"``, ``"failed"``, or None (not the client's
    fault: a bad link)."""
    key = KEY.format(name=name)
    with store.pipeline() as pipe:
        pipe.hincrby(key, "active", -1)
        if outcome:
            pipe.hincrby(key, outcome, 1)
        pipe.execute()
    counts = figures(store, name)
    if counts.active < 0:
        store.hset(key, "active", 0)
    if counts.ok + counts.failed > 100:  # decay: recent outcomes weigh more
        store.hset(key, mapping={"ok": counts.ok // 2, "failed": counts.failed // 2})
