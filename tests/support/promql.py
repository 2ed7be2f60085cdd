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
_VARIABLE = re.compile(r"\$\{([A-Za-z_]\w*)(?::\w+)?\}|\$([A-Za-z_]\w*)")  # not $1


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


# Labels every scraped series gets from Prometheus's target.
TARGET_LABELS = frozenset({"job", "instance"})


def registry_labels(*registries: Any) -> dict[str, frozenset[str]]:
    """``{series name: label names}`` of every metric the registries define (children or not).

    Reads prometheus_client's collectors, as the processes that serve these registries do:
    a metric with no labelled child yet still has its label names there.
    """
    labels: dict[str, frozenset[str]] = {}
    for registry in registries:
        for name, collector in registry._names_to_collectors.items():
            names = frozenset(getattr(collector, "_labelnames", ()))
            labels[name] = names | {"le"} if name.endswith("_bucket") else names
    return labels


class LabelCheck:
    """Label names an expression uses that its metrics do not have.

    Checks selector matchers, ``by``/``without`` of aggregations and ``on``/``ignoring``/
    ``group_*`` of binary operations against the labels the metrics underneath carry
    (``label_replace`` adds its destination). A metric of unknown labels disables the
    checks above it, so only what is known is asserted.
    """

    def __init__(self, known: dict[str, frozenset[str]]) -> None:
        self.known = known
        self.problems: list[str] = []

    def __call__(self, expr: str) -> list[str]:
        self.problems = []
        self._labels(promql_parser.parse(expr))
        return self.problems

    def _need(self, wanted: Iterable[str], have: frozenset[str] | None, where: str) -> None:
        if have is None:
            return
        absent = sorted(set(wanted) - have - {"__name__"})
        if absent:
            self.problems.append(f"{where}: no label {absent} (has {sorted(have)})")

    def _labels(self, node: Any) -> frozenset[str] | None:
        """The labels ``node``'s result can carry (None: unknown)."""
        p = promql_parser
        if isinstance(node, p.VectorSelector):
            if node.name not in self.known:
                return None if node.name not in PROMETHEUS_OWN else TARGET_LABELS
            have = self.known[node.name] | TARGET_LABELS
            self._need((m.name for m in node.matchers.matchers), have, node.name)
            return have
        if isinstance(node, p.MatrixSelector):
            return self._labels(node.vector_selector)
        if isinstance(node, p.ParenExpr | p.UnaryExpr | p.SubqueryExpr):
            return self._labels(node.expr)
        if isinstance(node, p.Call):
            return self._call(node)
        if isinstance(node, p.AggregateExpr):
            return self._aggregate(node)
        if isinstance(node, p.BinaryExpr):
            return self._binary(node)
        return frozenset()  # number and string literals

    def _call(self, node: Any) -> frozenset[str] | None:
        args = [self._labels(a) for a in node.args]
        if any(a is None for a in args):
            return None
        have = frozenset().union(*[a for a in args if a])
        if node.func.name == "label_replace":
            destination = node.args[1].val
            self._need([node.args[3].val], have, "label_replace source")
            return have | {destination}
        if node.func.name == "histogram_quantile":
            self._need(["le"], have, "histogram_quantile")
            return have - {"le"}
        return have

    def _aggregate(self, node: Any) -> frozenset[str] | None:
        have = self._labels(node.expr)
        if node.param is not None:
            self._labels(node.param)
        modifier = node.modifier
        keeps = str(node.op) in ("topk", "bottomk")  # return whole series, labels and all
        if modifier is None or have is None:
            return have if keeps or have is None else frozenset()
        self._need(modifier.labels, have, f"{node.op} {modifier}")
        if keeps:
            return have
        if modifier.type == promql_parser.AggModifierType.By:
            return frozenset(modifier.labels)
        return have - set(modifier.labels)

    def _binary(self, node: Any) -> frozenset[str] | None:
        left, right = self._labels(node.lhs), self._labels(node.rhs)
        both = None if left is None or right is None else left | right
        modifier = node.modifier
        if modifier is not None and modifier.matching is not None:
            self._need(modifier.matching.labels, both, f"{modifier.matching}")
            if modifier.matching.type == promql_parser.LabelModifierType.Include:  # on (…)
                self._need(modifier.matching.labels, left, "on (left side)")
                self._need(modifier.matching.labels, right, "on (right side)")
        return both
