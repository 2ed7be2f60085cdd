"""Posting one message to one receiver, within its rate limits; never a long wait in a worker.

A receiver's pace lives in Redis (``hauler:notify:pace:<name>``, the earliest moment
the next message may go), shared by every worker: Slack takes one message per second
per webhook, Discord says what it allows in ``X-RateLimit-*`` headers, and any receiver
answering 429 sets it from ``Retry-After`` (or ``X-RateLimit-Reset-After`` /
``X-RateLimit-Reset`` / Discord's ``retry_after``). A delivery whose turn is more than
a couple of seconds away is not waited for: it comes back ``deferred`` with the wait,
and the task layer schedules it again (a countdown, not a sleep).

The webhook URL carries its token: no outcome, error or log line here contains it.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import redis
import requests

from hauler.notify.settings import Receiver
from hauler.redact import redact_text

#: Least time between two messages to one receiver of each kind (Slack: 1 per second).
MIN_INTERVAL = {"slack": 1.1, "discord": 0.25, "json": 0.0}  # Slack: 1 s + a margin
#: Longest a delivery waits inside its task for its turn; a longer wait is rescheduled.
INLINE_WAIT = 2.0
#: Statuses that may pass: the receiver is busy or briefly broken.
RETRYABLE = frozenset({408, 425, 429, 500, 502, 503, 504})
PACE_KEY = "hauler:notify:pace:{receiver}"
_DEFAULT_RETRY = 1.0

_RESERVE = """
local now = tonumber(ARGV[1])
local gap = tonumber(ARGV[2])
local longest = tonumber(ARGV[3])
local nxt = tonumber(redis.call('GET', KEYS[1]) or '0')
local at = math.max(now, nxt)
if at - now > longest then
  return {0, tostring(at - now)}
end
redis.call('SET', KEYS[1], tostring(at + gap), 'EX', 86400)
return {1, tostring(at - now)}
"""
_BLOCK = """
local nxt = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) > nxt then
  redis.call('SET', KEYS[1], ARGV[1], 'EX', 86400)
end
return 1
"""


@dataclass(frozen=True)
class Outcome:
    """What became of one delivery."""

    status: str  # sent | deferred (try again in retry_in seconds) | failed (for good)
    http_status: int | None = None
    retry_in: float | None = None
    detail: str = ""  # why, in words; never the URL

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"status": self.status}
        if self.http_status is not None:
            out["http_status"] = self.http_status
        if self.retry_in is not None:
            out["retry_in"] = round(self.retry_in, 3)
        if self.detail:
            out["detail"] = self.detail
        return out


class Pace:
    """The shared "not before" moment of each receiver, in Redis."""

    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        self._reserve = client.register_script(_RESERVE)
        self._block = client.register_script(_BLOCK)

    def reserve(self, receiver: Receiver, now: float, longest: float) -> tuple[bool, float]:
        """Take the receiver's next slot if it is at most ``longest`` away: (taken, wait)."""
        gap = MIN_INTERVAL.get(receiver.kind, 0.0)
        key = PACE_KEY.format(receiver=receiver.name)
        taken, wait = self._reserve(keys=[key], args=[repr(now), repr(gap), repr(longest)])
        return bool(int(taken)), float(wait)

    def block(self, receiver: Receiver, until: float) -> None:
        """Nothing goes to ``receiver`` before ``until`` (epoch seconds)."""
        self._block(keys=[PACE_KEY.format(receiver=receiver.name)], args=[repr(until)])


def retry_after(headers: Mapping[str, str], body: Any, now: float) -> float:
    """Seconds a receiver asks to wait, from its 429 (or rate-limit headers); 1 s if unsaid."""
    lowered = {k.lower(): v for k, v in headers.items()}
    raw = lowered.get("retry-after")
    if raw:
        try:
            return max(0.0, float(raw))
        except ValueError:
            parsed = email.utils.parsedate_to_datetime(raw) if raw.strip() else None
            if parsed is not None:
                return max(0.0, parsed.timestamp() - now)
    wait = _reset_wait(lowered, now)
    if wait is not None:
        return wait
    if isinstance(body, dict) and isinstance(body.get("retry_after"), int | float):
        return max(0.0, float(body["retry_after"]))  # Discord's body, in seconds
    return _DEFAULT_RETRY


def _reset_wait(lowered: Mapping[str, str], now: float) -> float | None:
    try:
        if "x-ratelimit-reset-after" in lowered:
            return max(0.0, float(lowered["x-ratelimit-reset-after"]))
        if "x-ratelimit-reset" in lowered:
            reset = float(lowered["x-ratelimit-reset"])
            return max(0.0, reset - now) if reset > 1e9 else max(0.0, reset)
    except ValueError:
        return None
    return None


def post(
    receiver: Receiver,
    body: dict[str, Any],
    *,
    pace: Pace,
    timeout: float,
    longest_wait: float,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
) -> Outcome:
    """POST ``body`` to ``receiver`` when its turn comes (within INLINE_WAIT); say how it went."""
    taken, wait = pace.reserve(receiver, clock(), INLINE_WAIT)
    if not taken:
        return _deferred(None, wait, "waiting for the receiver's rate limit", longest_wait)
    if wait > 0:
        sleep(wait)
    try:
        response = requests.post(receiver.url, json=body, timeout=timeout, allow_redirects=False)
    except requests.RequestException as exc:
        return _deferred(None, 5.0, f"no answer ({type(exc).__name__})", longest_wait)
    now = clock()
    status = response.status_code
    if 200 <= status < 300:
        if response.headers.get("X-RateLimit-Remaining") == "0":
            pace.block(receiver, now + (_reset_wait(_lower(response.headers), now) or 1.0))
        return Outcome("sent", status)
    text = redact_text(response.text[:200].strip())
    if status == 429:
        wait = retry_after(response.headers, _json(response), now)
        pace.block(receiver, now + wait)
        return _deferred(status, wait, f"rate limited: {text}", longest_wait)
    if status in RETRYABLE:
        return _deferred(status, 5.0, f"HTTP {status}: {text}", longest_wait)
    return Outcome("failed", status, detail=f"refused with HTTP {status}: {text}")


def _deferred(status: int | None, wait: float, detail: str, longest: float) -> Outcome:
    if wait > longest:
        return Outcome("failed", status, detail=f"{detail}; asked to wait {wait:.0f}s, too long")
    return Outcome("deferred", status, retry_in=max(wait, 0.05), detail=detail)


def _lower(headers: Mapping[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}


def _json(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None
