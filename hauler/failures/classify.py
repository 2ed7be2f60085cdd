"""Classify a client's failure by the table: its own status, message and sub-statuses."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache

from hauler.downloads.clients.jobs import ClientJob
from hauler.failures.categories import POLICIES, Category, Severity, Strategy
from hauler.failures.table import RULES, Rule

CLIENTS = ("aria2", "nzbget", "qbittorrent", "sabnzbd")
_ARIA2_STATUS = re.compile(r"(?:error/)?(\d{1,2})")  # "error/29" (the watch's) or "29"


@dataclass(frozen=True)
class Classification:
    """What Hauler makes of one failure, and the row of the table that said so."""

    category: Category
    severity: Severity
    retry_same: bool  # can retrying the same release in the same client help?
    strategies: tuple[Strategy, ...]
    rule: Rule | None  # None: no row matched (category unknown)

    def as_dict(self) -> dict[str, object]:
        return {
            "category": self.category.value,
            "severity": self.severity.value,
            "retry_same": self.retry_same,
            "strategies": [s.value for s in self.strategies],
            "source": self.rule.source if self.rule else None,
        }


@cache
def _message_regex(pattern: str) -> re.Pattern[str]:
    """A msgid as a regex: literal text, ``%s``/``%d`` as any value, matched from the start."""
    parts = re.split(r"(%[sd])", pattern)
    body = "".join(".*?" if p == "%s" else r"-?\d+" if p == "%d" else re.escape(p) for p in parts)
    return re.compile(body, re.DOTALL)


def _matches(rule: Rule, status: str, message: str, details: Mapping[str, str]) -> bool:
    if rule.field == "message":
        return bool(message) and _message_regex(rule.pattern).match(message) is not None
    if rule.field == "status":
        return status == rule.pattern
    return _text(details.get(rule.field)) == rule.pattern


def _text(value: object) -> str:
    """Any value a client sent, as text; bytes that are not UTF-8 do not raise."""
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace").strip()
    return str(value).strip()


def classify(
    client: str,
    status: object = "",
    message: object = "",
    details: Mapping[str, object] | None = None,
) -> Classification:
    """The category of a failure a client reported, by the first matching rule.

    Args:
        client: aria2, nzbget, qbittorrent or sabnzbd.
        status: the client's status word or code (NZBGet ``Status``, qBittorrent
            ``state``, aria2 ``errorCode``, SABnzbd ``status``).
        message: the client's own failure text (SABnzbd ``fail_message``, aria2
            ``errorMessage``).
        details: other raw fields (NZBGet ``ParStatus``, ``UnpackStatus`` …).
    """
    status_text, message_text = _text(status), _text(message)
    fields = {k: _text(v) for k, v in (details or {}).items()}
    if client == "aria2" and not fields.get("errorCode"):
        code = _ARIA2_STATUS.fullmatch(status_text)
        if code:
            fields["errorCode"] = code.group(1)
    for rule in RULES:
        if rule.client not in ("*", client):
            continue
        if _matches(rule, status_text, message_text, fields):
            return _verdict(rule.category, rule)
    return _verdict(Category.UNKNOWN, None)


def classify_job(job: ClientJob) -> Classification:
    """The category of a failed ``ClientJob``."""
    return classify(job.client, job.status, job.message, job.details)


def classify_text(client: str, text: str) -> Classification:
    """The category of one text an operator pastes: a status word, a code or a message."""
    by_status = classify(client, status=text)
    if by_status.rule is not None and by_status.rule.field != "message":
        return by_status
    return classify(client, message=text)


def _verdict(category: Category, rule: Rule | None) -> Classification:
    policy = POLICIES[category]
    return Classification(category, policy.severity, policy.retry_same, policy.strategies, rule)
