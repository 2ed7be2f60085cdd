"""The alert rules, as data: what each reads, when it fires, how loud, and for how long first.

A rule reads checks of the health document (globs on ``component:measurement`` keys,
as hauler/health writes them, with the statuses that count) and/or a *fact* from
hauler/alerts/facts.py (activity rows, dead letters, the queues), which also stands in
when the document has no such check. Each finding becomes one alert labelled ``alertname``,
``severity``, ``instance`` and ``scope``; a rule with ``hold`` fires only once its
condition has held that long (Prometheus' ``for``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from hauler.alerts import facts
from hauler.alerts.model import Alert
from hauler.settings import Settings

#: A health status → the severity of a rule whose severity is "by-status".
BY_STATUS = {"warn": "warning", "fail": "critical"}


@dataclass(frozen=True)
class Rule:
    """One alert rule."""

    name: str  # the alertname
    severity: str  # info | warning | critical | by-status (warn → warning, fail → critical)
    summary: str  # one line; {instance}, {value}, {unit}, {output} are filled in
    checks: tuple[str, ...] = ()  # health checks read (globs on component:measurement)
    statuses: tuple[str, ...] = ("fail",)  # statuses of those checks that fire
    fact: str = ""  # or a fact of facts.FACTS
    options: Mapping[str, str] = field(default_factory=dict)  # the fact's arguments
    scope: str = "deployment"  # deployment | queue | client | disk | backup | download
    hold: str = ""  # NotifySettings field: seconds the condition must hold before firing

    def findings(
        self, settings: Settings, document: Mapping[str, Any] | None, now: datetime
    ) -> list[facts.Finding]:
        """What holds now: the document's checks; the fact where the document has none."""
        if self.checks and facts.has_checks(document, self.checks):
            return facts.from_checks(document, self.checks, self.statuses)
        if self.fact:
            return facts.FACTS[self.fact](settings, now, document=document, **self.options)
        return []

    def alert(self, finding: facts.Finding, now: datetime) -> Alert:
        severity = BY_STATUS.get(finding.status, "warning")
        if self.severity != "by-status":
            severity = self.severity
        summary = self.summary.format(
            instance=finding.instance,
            value="" if finding.value is None else finding.value,
            unit=finding.unit,
            output=finding.output or "no detail",
        )
        return Alert(
            labels={
                "alertname": self.name,
                "severity": severity,
                "instance": finding.instance,
                "scope": self.scope,
            },
            annotations={"summary": summary[:500], "description": finding.output[:1000]},
            starts_at=now,
            source="rules",
        )


RULES: tuple[Rule, ...] = (
    Rule("broker-down", "critical", "the broker does not answer: {output}", ("broker:*",)),
    Rule("database-down", "critical", "the database does not answer: {output}", ("database:*",)),
    Rule("task-failures", "warning", "{output}", fact="task_failures"),
    Rule(
        "dead-letters-growing",
        "by-status",
        "dead letters are piling up: {output}",
        ("deadLetters:*",),
        ("warn", "fail"),
        fact="dead_letters",
    ),
    Rule(
        "queue-latency",
        "warning",
        "queue {instance}: {output}",
        fact="queue_latency",
        scope="queue",
        hold="latency_for",
    ),
    Rule(
        "queue-no-workers",
        "critical",
        "queue {instance} has work and no worker: {output}",
        ("workers:*",),
        scope="queue",
    ),
    Rule(
        "disk-low",
        "by-status",
        "disk low at {instance}: {output}",
        ("disk:*",),
        ("warn", "fail"),
        scope="disk",
    ),
    Rule(
        "backup-missing",
        "by-status",
        "no recent verified backup ({instance}): {output}",
        ("backup:*",),
        ("warn", "fail"),
        scope="backup",
    ),
    Rule(
        "backup-bad",
        "critical",
        "backup of {instance} failed verification: {output}",
        fact="events",
        options={
            "kind": "backup.bad",
            "cleared_by": "backup.verified",
            "instance_field": "database",
        },
        scope="backup",
    ),
    Rule(
        "download-client-down",
        "warning",
        "download client {instance} is down: {output}",
        ("downloadClient:*",),
        scope="client",
    ),
    Rule(
        "recorder-dropping",
        "warning",
        "the recorder is dropping events: {output}",
        fact="recorder_drops",
    ),
    Rule("recorder-down", "critical", "the recorder is not recording: {output}", ("recorder:*",)),
    Rule("beat-down", "critical", "beat is not scheduling: {output}", ("beat:*",)),
    Rule("autoscaler-down", "warning", "no autoscaler leads: {output}", ("autoscaler:*",)),
    Rule(
        "heal-escalated",
        "critical",
        "healing {instance} gave up: {output}",
        fact="events",
        options={
            "kind": "health.escalated",
            "cleared_by": "health.healed",
            "instance_field": "component",
        },
    ),
    Rule(
        "recovery-gave-up",
        "warning",
        "recovery gave up on download {instance}: {output}",
        fact="events",
        options={"kind": "recovery.gave-up", "instance_field": "job_id"},
        scope="download",
    ),
)


def candidates(
    settings: Settings,
    document: Mapping[str, Any] | None,
    now: datetime,
    rules: tuple[Rule, ...] = RULES,
) -> list[tuple[Rule, Alert]]:
    """Every alert whose condition holds now, with its rule (before any ``hold``)."""
    out = []
    for rule in rules:
        for finding in rule.findings(settings, document, now):
            out.append((rule, rule.alert(finding, now)))
    return out
