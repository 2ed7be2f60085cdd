"""The media cache: outputs on disk, metadata in the database, hit counters in Redis.

An entry is keyed by the input's content fingerprint, the kind of output and its
parameters, lives ``HAULER_MEDIA_CACHE_TTL`` seconds, and is removed by
``maintenance.cleanup`` (:func:`expire`) or by path (:func:`invalidate`).
"""

from __future__ import annotations

import hashlib
import json
import shutil
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import redis
from sqlalchemy import delete, func, select

from hauler.settings import Settings
from hauler.store.db import session_scope
from hauler.store.media_models import MediaCacheEntry

HITS_KEY = "hauler:media:cache:hits"
MISSES_KEY = "hauler:media:cache:misses"


def cache_root(settings: Settings) -> Path:
    """Where cached outputs live."""
    return settings.media.cache_dir or settings.data_dir / "media-cache"


def cache_key(kind: str, fingerprint: str, params: dict[str, Any]) -> str:
    """The key of one output set: content fingerprint + kind + parameters."""
    blob = json.dumps({"kind": kind, "fp": fingerprint, "params": params}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


def with_paths(directory: Path, result: dict[str, Any]) -> dict[str, Any]:
    """A stored result with its file names made absolute paths in ``directory``."""
    out = dict(result)
    for field in ("path", "sprite", "vtt"):
        if field in out:
            out[field] = str(directory / out[field])
    return out


def lookup(
    settings: Settings, client: redis.Redis, key: str, now: datetime
) -> dict[str, Any] | None:
    """The cached result for ``key`` (counting a hit), or None.

    A miss is not counted here (a lookup is repeated under the lock): the caller that goes
    on to generate counts it with :func:`count_miss`.
    """
    with session_scope(settings.database_url) as session:
        entry = session.get(MediaCacheEntry, key)
        if entry is None or _aware(entry.expires_at) <= now or not Path(entry.directory).is_dir():
            return None
        entry.hits += 1
        result = with_paths(Path(entry.directory), entry.result)
    client.incr(HITS_KEY)
    return {**result, "cached": True}


def count_miss(client: redis.Redis) -> None:
    client.incr(MISSES_KEY)


def store(
    settings: Settings,
    *,
    key: str,
    kind: str,
    source: Path,
    fingerprint: str,
    params: dict[str, Any],
    made_in: Path,
    result: dict[str, Any],
    now: datetime,
) -> dict[str, Any]:
    """Move the outputs in ``made_in`` into the cache and record them; return the result."""
    directory = cache_root(settings) / key[:2] / key
    directory.parent.mkdir(parents=True, exist_ok=True)
    if directory.exists():
        shutil.rmtree(directory)
    made_in.rename(directory)
    size = sum(f.stat().st_size for f in directory.iterdir() if f.is_file())
    ttl = timedelta(seconds=settings.media.cache_ttl_seconds)
    with session_scope(settings.database_url) as session:
        session.merge(
            MediaCacheEntry(
                key=key,
                kind=kind,
                source_path=str(source),
                fingerprint=fingerprint,
                params=params,
                result=result,
                directory=str(directory),
                bytes=size,
                hits=0,
                created_at=now,
                expires_at=now + ttl,
            )
        )
    return {**with_paths(directory, result), "cached": False}


def _remove(settings: Settings, entries: list[MediaCacheEntry]) -> int:
    for entry in entries:
        shutil.rmtree(entry.directory, ignore_errors=True)
    return len(entries)


def expire(settings: Settings, now: datetime) -> int:
    """Delete entries past their TTL, files and rows; return how many."""
    with session_scope(settings.database_url) as session:
        old = list(
            session.scalars(select(MediaCacheEntry).where(MediaCacheEntry.expires_at <= now))
        )
        session.execute(
            delete(MediaCacheEntry).where(MediaCacheEntry.key.in_([e.key for e in old]))
        )
    return _remove(settings, old)


def invalidate(settings: Settings, source: Path) -> int:
    """Delete every entry made from ``source``; return how many."""
    path = str(source.expanduser().resolve())
    with session_scope(settings.database_url) as session:
        found = list(
            session.scalars(select(MediaCacheEntry).where(MediaCacheEntry.source_path == path))
        )
        session.execute(delete(MediaCacheEntry).where(MediaCacheEntry.source_path == path))
    return _remove(settings, found)


def stats(settings: Settings, client: redis.Redis) -> dict[str, Any]:
    """Entries, bytes, hits, misses and hit rate."""
    with session_scope(settings.database_url) as session:
        entries, size = session.execute(
            select(func.count(), func.coalesce(func.sum(MediaCacheEntry.bytes), 0))
        ).one()
    hits = int(client.get(HITS_KEY) or 0)
    misses = int(client.get(MISSES_KEY) or 0)
    lookups = hits + misses
    return {
        "entries": int(entries),
        "bytes": int(size),
        "hits": hits,
        "misses": misses,
        "hit_rate": round(hits / lookups, 4) if lookups else 0.0,
        "directory": str(cache_root(settings)),
    }


def _aware(moment: datetime) -> datetime:
    from datetime import UTC

    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
