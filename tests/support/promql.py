"""PromQL of the dashboard and the alert rules: the expressions, their metric names, and
the names a scrape of ``/metrics`` really exports."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import promql_parser
import yaml

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "deploy" / "grafana" / "dashboards" / "hauler.json"
ALERTS = ROOT / "deploy" / "prometheus" / "alerts.yml"
RULE_TESTS = ROOT / "deploy" / "prometheus" / "tests"
PROMETHEUS_CONFIG = ROOT / "deploy" / "prometheus.yml"

# Grafana's built-in variables, replaced by what Grafana would put there.
GRAFANA_BUILTINS = {
    "__rate_interval": "5m",
    "__interval": "1m",
    "__range": "1h",
    "__range_s": "3600",
    "__interval_ms": "60000",
}
# Series Prometheus makes itself rather than scraping them.
PROMETHEUS_OWN = {"up", "scrape_duration_seconds", "scrape_samples_scraped", "ALERTS"}
_LABEL_VALUES = re.compile(r"^\s*label_values\(\s*(?P<selector>.+?)\s*,\s*\w+\s*\)\s*$")
_VARIABLE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)")


def dashboard_panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel, rows' collapsed panels included."""
    for panel in dashboard.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


def dashboard_expressions(path: Path = DASHBOARD) -> list[tuple[str, str]]:
    """``(where, PromQL)`` for every panel target and every query variable of the dashboard."""
    dashboard = json.loads(path.read_text())
    found = []
    for panel in dashboard_panels(dashboard):
        for target in panel.get("targets", []):
            if target.get("expr"):
                where = f"panel {panel['title']!r} {target.get('refId', '')}"
                found.append((where, target["expr"]))
    for variable in dashboard.get("templating", {}).get("list", []):
        if variable.get("type") != "query":
            continue
        query = variable["query"]
        query = query.get("query", "") if isinstance(query, dict) else query
        match = _LABEL_VALUES.match(query)
        if not match:
            raise AssertionError(f"variable {variable['name']}: not label_values(…): {query!r}")
        found.append((f"variable {variable['name']!r}", match["selector"]))
    return found


def substitute(expr: str, variables: dict[str, str]) -> str:
    """``expr`` with Grafana's ``$var``/``${var}`` replaced: built-ins, then ``variables``."""

    def value(match: re.Match[str]) -> str:
        name = match[1] or match[2]
        if name in GRAFANA_BUILTINS:
            return GRAFANA_BUILTINS[name]
        if name in variables:
            return variables[name]
        raise AssertionError(f"unknown dashboard variable ${name} in {expr!r}")

    return _VARIABLE.sub(value, expr)


def alert_expressions(path: Path = ALERTS) -> list[tuple[str, str]]:
    """``(alert name, PromQL)`` for every rule of the alert rules file."""
    groups = yaml.safe_load(path.read_text())["groups"]
    return [
        (rule.get("alert") or rule["record"], rule["expr"])
        for group in groups
        for rule in group["rules"]
    ]


def metric_names(expr: str) -> set[str]:
    """The metric names ``expr`` selects (by name or by a ``__name__`` matcher)."""
    names: set[str] = set()

    def visit(node: Any) -> None:
        if isinstance(node, promql_parser.VectorSelector):
            if node.name:
                names.add(node.name)
            for matcher in node.matchers.matchers:
                if matcher.name == "__name__":
                    names.add(matcher.value)

    promql_parser.walk(promql_parser.parse(expr), visit)
    return names


def exported_names(exposition: str) -> set[str]:
    """Series names a ``/metrics`` text exports, from its samples and HELP/TYPE lines
    (a metric with no labelled child yet has only the latter)."""
    names: set[str] = set()
    for line in exposition.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(maxsplit=3)
            names.add(name)
            if kind == "histogram":
                names.update(f"{name}{suffix}" for suffix in ("_bucket", "_sum", "_count"))
            elif kind == "summary":
                names.update(f"{name}{suffix}" for suffix in ("_sum", "_count"))
            if kind in ("counter", "histogram", "summary"):
                names.add(f"{name.removesuffix('_total')}_created")
        elif line.startswith("# HELP "):
            names.add(line.split(maxsplit=3)[2])
        elif line and not line.startswith("#"):
            names.add(re.split(r"[{\s]", line, maxsplit=1)[0])
    return names


def missing_names(used: Iterable[tuple[str, set[str]]], exported: set[str]) -> dict[str, set[str]]:
    """``{where: names}`` for the expressions that use a name nothing exports."""
    gaps = {}
    for where, names in used:
        absent = names - exported - PROMETHEUS_OWN
        if absent:
            gaps[where] = absent
    return gaps
