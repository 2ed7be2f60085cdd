"""Inhibition, as Alertmanager has it: a firing source alert mutes the target alerts it explains.

A rule mutes an alert matching ``target`` while some *other* firing alert matches
``source`` and both carry the same values for the ``equal`` labels. Hauler's rules: a
broker that is down mutes every per-queue alert (no workers, latency, failures) it
causes; a critical alert mutes the warning of the same name and instance.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class InhibitRule:
    """Mute ``target`` alerts while a ``source`` alert fires with the same ``equal`` labels."""

    name: str
    source: Mapping[str, str]
    target: Mapping[str, str]
    equal: tuple[str, ...] = ()


RULES: tuple[InhibitRule, ...] = (
    InhibitRule("broker-down", {"alertname": "broker-down"}, {"scope": "queue"}),
    InhibitRule("broker-down", {"alertname": "broker-down"}, {"alertname": "task-failures"}),
    InhibitRule("database-down", {"alertname": "database-down"}, {"alertname": "task-failures"}),
    InhibitRule(
        "critical-over-warning",
        {"severity": "critical"},
        {"severity": "warning"},
        ("alertname", "instance"),
    ),
)


def _matches(labels: Mapping[str, str], matchers: Mapping[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in matchers.items())


def inhibited_by(
    labels: Mapping[str, str],
    firing: Iterable[Mapping[str, str]],
    rules: Iterable[InhibitRule] = RULES,
) -> str | None:
    """The name of the rule that mutes the alert with ``labels``, or None.

    Args:
        labels: the alert that might be muted.
        firing: the label sets of every firing alert (the alert itself may be among them;
            an alert never mutes itself).
        rules: the inhibition rules.
    """
    sources = [dict(f) for f in firing if dict(f) != dict(labels)]
    for rule in rules:
        if not _matches(labels, rule.target):
            continue
        for source in sources:
            if _matches(source, rule.source) and all(
                source.get(k) == labels.get(k) for k in rule.equal
            ):
                return rule.name
    return None
