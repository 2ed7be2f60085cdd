"""Probes of the services Hauler stands on: the broker (PING) and the database (round trip)."""

from __future__ import annotations

import time
from functools import lru_cache

import redis
from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from hauler.health.context import ProbeContext
from hauler.health.document import Observation, Status
from hauler.redact import redact_text
from hauler.store.db import normalize_url, redacted


def broker(ctx: ProbeContext) -> list[Observation]:
    """``broker:responseTime``: one PING's round trip in milliseconds."""
    started = time.perf_counter()
    try:
        ctx.redis.ping()
    except redis.RedisError as exc:
        ctx.broker_up = False
        output = f"PING failed: {redact_text(str(exc))}"
        return [
            Observation("broker:responseTime", Status.FAIL, None, "ms", output, None, "datastore")
        ]
    ms = round((time.perf_counter() - started) * 1000, 2)
    slow = ms > ctx.health.broker_warn_ms
    status = Status.WARN if slow else Status.PASS
    output = f"PING took {ms} ms (warn above {ctx.health.broker_warn_ms:g})" if slow else ""
    return [Observation("broker:responseTime", status, ms, "ms", output, None, "datastore")]


@lru_cache(maxsize=8)
def probe_engine(url: str, timeout: float) -> Engine:
    """An engine that opens a fresh connection per probe, giving up after ``timeout``."""
    url = normalize_url(url)
    if url.startswith("sqlite"):
        return create_engine(url, poolclass=NullPool, connect_args={"timeout": timeout})
    connect_args = {"connect_timeout": max(1, round(timeout))} if "psycopg" in url else {}
    return create_engine(url, poolclass=NullPool, connect_args=connect_args)


def database(ctx: ProbeContext) -> list[Observation]:
    """``database:responseTime`` (SELECT 1, in ms) and ``database:size`` (bytes)."""
    url = ctx.settings.database_url
    engine = probe_engine(url, ctx.health.probe_timeout)
    try:
        with engine.connect() as connection:
            started = time.perf_counter()
            connection.execute(text("SELECT 1"))
            ms = round((time.perf_counter() - started) * 1000, 2)
            size = _size(connection)
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0] if str(exc) else repr(exc)
        output = f"{redacted(url)} unreachable: {redact_text(reason)}"
        return [
            Observation("database:responseTime", Status.FAIL, None, "ms", output, None, "datastore")
        ]
    slow = ms > ctx.health.database_warn_ms
    output = f"SELECT 1 took {ms} ms (warn above {ctx.health.database_warn_ms:g})" if slow else ""
    return [
        Observation(
            "database:responseTime",
            Status.WARN if slow else Status.PASS,
            ms,
            "ms",
            output,
            None,
            "datastore",
        ),
        Observation("database:size", Status.PASS, size, "bytes", "", None, "datastore"),
    ]


def _size(connection: Connection) -> int | None:
    dialect = connection.dialect.name
    execute = connection.execute
    if dialect == "postgresql":
        return int(execute(text("SELECT pg_database_size(current_database())")).scalar() or 0)
    if dialect == "sqlite":
        pages = execute(text("PRAGMA page_count")).scalar() or 0
        return int(pages) * int(execute(text("PRAGMA page_size")).scalar() or 0)
    return None
