"""Read environment values into typed settings, one line per problem; the queues' defaults."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")

# Hauler's queues, one per kind of work (long transfers, short polls, …), each with its
# defaults: (concurrency, soft limit s, hard limit s).
QUEUE_DEFAULTS: dict[str, tuple[int, int, int]] = {
    "downloads": (4, 6 * 3600, 6 * 3600 + 300),
    "uploads": (2, 3 * 3600, 3 * 3600 + 300),
    "polling": (1, 90, 110),
    "recovery": (2, 300, 330),
    "media": (2, 600, 660),
    "archives": (2, 3600, 3900),
    "backups": (1, 3600, 3900),
    "health": (2, 60, 75),
    "notify": (2, 60, 75),
    "maintenance": (1, 1800, 1900),
}


@dataclass(frozen=True)
class QueueSettings:
    """How one queue's workers run."""

    name: str
    concurrency: int  # worker processes per worker started for this queue
    soft_time_limit: int  # seconds before SoftTimeLimitExceeded is raised in the task
    time_limit: int  # seconds before the worker kills the task's process


class EnvReader:
    """Parses environment values, collecting one line per problem instead of raising."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env
        self.problems: list[str] = []

    def _parse(self, key: str, default: T, parse: Callable[[str], T], expected: str) -> T:
        raw = self.env.get(key)
        if raw is None or raw.strip() == "":
            return default
        try:
            return parse(raw.strip())
        except ValueError:
            self.problems.append(f"{key}={raw!r} is not {expected}")
            return default

    def text(self, key: str, default: str) -> str:
        return self._parse(key, default, str, "text")

    def integer(
        self, key: str, default: int, *, minimum: int | None = None, maximum: int | None = None
    ) -> int:
        value = self._parse(key, default, int, "a whole number")
        return self._bounded(key, value, default, minimum, maximum)

    def number(self, key: str, default: float, *, minimum: float | None = None) -> float:
        value = self._parse(key, default, float, "a number")
        return self._bounded(key, value, default, minimum, None)

    def _bounded(
        self, key: str, value: T, default: T, minimum: float | None, maximum: float | None
    ) -> T:
        if minimum is not None and value < minimum:  # type: ignore[operator]
            self.problems.append(f"{key}={value} is below the minimum {minimum}")
            return default
        if maximum is not None and value > maximum:  # type: ignore[operator]
            self.problems.append(f"{key}={value} is above the maximum {maximum}")
            return default
        return value

    def boolean(self, key: str, default: bool) -> bool:
        def parse(raw: str) -> bool:
            lowered = raw.lower()
            if lowered in ("1", "true", "yes", "on"):
                return True
            if lowered in ("0", "false", "no", "off"):
                return False
            raise ValueError(raw)

        return self._parse(key, default, parse, "true or false")

    def choice(self, key: str, default: str, choices: tuple[str, ...]) -> str:
        value = self.text(key, default).upper()
        if value not in choices:
            self.problems.append(f"{key}={value!r} is not one of {', '.join(choices)}")
            return default
        return value

    def url(self, key: str, default: str, schemes: tuple[str, ...]) -> str:
        value = self.text(key, default)
        scheme = value.split("://", 1)[0] if "://" in value else ""
        if scheme not in schemes:
            self.problems.append(f"{key}={value!r} must be a URL starting with {schemes[0]}://")
            return default
        return value

    def queue(self, name: str, concurrency: int, soft: int, hard: int) -> QueueSettings:
        prefix = f"HAULER_QUEUE_{name.upper()}_"
        queue = QueueSettings(
            name=name,
            concurrency=self.integer(prefix + "CONCURRENCY", concurrency, minimum=1),
            soft_time_limit=self.integer(prefix + "SOFT_TIME_LIMIT", soft, minimum=1),
            time_limit=self.integer(prefix + "TIME_LIMIT", hard, minimum=1),
        )
        if queue.time_limit <= queue.soft_time_limit:
            self.problems.append(
                f"{prefix}TIME_LIMIT={queue.time_limit} must be longer than "
                f"{prefix}SOFT_TIME_LIMIT={queue.soft_time_limit}"
            )
        return queue
