"""Helpers the command modules share: settings, service checks, output."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import redis

from hauler import broker
from hauler.settings import Settings, get_settings
from hauler.store.db import require_database
from hauler.store.migrate import upgrade


def settings() -> Settings:
    """The settings, validated (ConfigurationError is reported by main)."""
    return get_settings()


def need_redis() -> redis.Redis:
    """A client for the broker, or ServiceUnavailable with a hint."""
    return broker.connect(settings().broker_url)


def need_database(*, migrate: bool = True) -> str:
    """The database URL once the database answers (and is migrated)."""
    url = settings().database_url
    require_database(url)
    if migrate:
        upgrade(url)
    return url


def dumps(value: Any) -> str:
    """JSON for people: indented, UTF-8, anything unknown as its str()."""
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


def when(moment: datetime | None) -> str:
    """A timestamp as UTC with milliseconds, or '-'."""
    if moment is None:
        return "-"
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
