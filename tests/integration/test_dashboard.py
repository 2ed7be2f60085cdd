"""The Grafana dashboard's PromQL parses (promtool) and uses only names Hauler exports.

Grafana cannot run here, so its expressions are checked the two ways that matter: by
Prometheus's own parser (each expression as a recording rule, ``promtool check rules``)
and against the names a live recorder and autoscaler serve on ``/metrics``. The alert
rules' names get the same live check.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import requests
import yaml

from autoscale.metrics import AutoscaleMetrics
from hauler.recorder.metrics import Metrics
from tests.integration.conftest import ROOT, _wait_http
from tests.integration.faults.sockets import free_port
from tests.integration.services import require_binary
from tests.support.promql import (
    DASHBOARD,
    LabelCheck,
    alert_expressions,
    dashboard_expressions,
    dashboard_panels,
    exported_names,
    metric_names,
    missing_names,
    registry_labels,
    substitute,
)

pytestmark = pytest.mark.integration

VARIABLES = {"datasource": "prometheus", "queue": ".*", "task": ".*"}

# What the issue asks the dashboard to show: a word of each, found in some panel title.
ROWS = (
    "Throughput by queue",
    "Throughput by task",
    "Failures by task",
    "Runtime quantiles",
    "Queue depth",
    "Queue latency",
    "Workers vs desired",
    "Autoscaler decisions",
    "Transfer bytes",
    "Download failures by category",
    "Recoveries",
    "Dead letters",
    "Backup age",
    "Health checks",
)


def test_every_dashboard_expression_parses_with_promtool(tmp_path: Path) -> None:
    # given every expression of the dashboard, Grafana's variables filled in
    promtool = require_binary("promtool")
    expressions = dashboard_expressions()
    rules = [
        {"record": f"hauler_dashboard:expr_{i}", "expr": substitute(expr, VARIABLES)}
        for i, (_, expr) in enumerate(expressions)
    ]
    path = tmp_path / "dashboard-rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))

    # when promtool checks them as recording rules
    done = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True, text=True)

    # then each parses, and the dashboard has the panels the issue lists
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(rules)} rules found" in done.stdout, done.stdout
    titles = {p["title"] for p in dashboard_panels(json.loads(DASHBOARD.read_text()))}
    assert not set(ROWS) - titles, f"panels missing: {sorted(set(ROWS) - titles)}"
    assert len(expressions) > 40


def test_the_checks_catch_a_bad_expression_and_an_unknown_name(tmp_path: Path) -> None:
    # given an expression with a syntax error and one with a name nobody exports
    promtool = require_binary("promtool")
    path = tmp_path / "bad.yml"
    rule = {"record": "x:y", "expr": "sum by (queue_name (celery_queue_length)"}
    path.write_text(yaml.safe_dump({"groups": [{"name": "bad", "rules": [rule]}]}))

    # when they are checked, then promtool refuses the first and the name check the second
    done = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True, text=True)
    assert done.returncode != 0, done.stdout
    used = [("p", metric_names('rate(celery_task_sucess_total{queue_name="media"}[5m])'))]
    assert missing_names(used, {"celery_task_succeeded_total"}) == {
        "p": {"celery_task_sucess_total"}
    }
    # and the label check catches the recorder's `queue_name` mixed up with the autoscaler's
    check = LabelCheck(registry_labels(Metrics().registry, AutoscaleMetrics().registry))
    assert check('sum by (queue) (celery_queue_length{queue_name="media"})')
    assert check('hauler_autoscaler_workers{queue_name="media"}')
    assert check("celery_queue_length > on (queue_name) hauler_autoscaler_desired_workers")
    assert not check("celery_queue_length > on (queue_name) hauler_queue_workers")


def test_dashboard_and_alert_rules_use_only_labels_their_metrics_have() -> None:
    # given the label names of every metric the recorder and the autoscaler define
    check = LabelCheck(registry_labels(Metrics().registry, AutoscaleMetrics().registry))
    expressions = [(w, substitute(e, VARIABLES)) for w, e in dashboard_expressions()]
    expressions += [(f"alert {name}", expr) for name, expr in alert_expressions()]

    # when each expression's matchers, by/without and on/ignoring labels are checked
    problems = {where: found for where, expr in expressions if (found := check(expr))}

    # then none names a label its metrics lack
    assert not problems, "\n".join(f"{w}: {p}" for w, p in problems.items())


def test_dashboard_and_alert_rules_use_only_names_a_live_stack_exports(
    recorder: subprocess.Popen[bytes], hauler_env: dict[str, str], tmp_path: Path
) -> None:
    # given a running recorder and a running autoscaler (no workers to start: min 0)
    port = free_port()
    env = {
        **hauler_env,
        "HAULER_AUTOSCALE_QUEUES": "health",
        "HAULER_AUTOSCALE_HEALTH_MIN": "0",
        "HAULER_AUTOSCALE_INTERVAL": "1",
        "HAULER_AUTOSCALE_METRICS_PORT": str(port),
    }
    log = tmp_path / "autoscaler.log"
    with log.open("ab") as out:
        autoscaler = subprocess.Popen(
            [sys.executable, "-m", "hauler.cli.main", "autoscale"],
            env=env,
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        _wait_http(f"http://127.0.0.1:{port}/metrics", autoscaler, log)
        # when both are scraped
        exported: set[str] = set()
        for metrics_port in (hauler_env["HAULER_RECORDER_PORT"], port):
            url = f"http://127.0.0.1:{metrics_port}/metrics"
            exported |= exported_names(text := requests.get(url, timeout=5).text)
    finally:
        autoscaler.terminate()
        autoscaler.wait(timeout=30)

    # then every name the dashboard and the alert rules select is among them
    used = [
        (where, metric_names(substitute(expr, VARIABLES)))
        for where, expr in dashboard_expressions()
    ] + [(f"alert {name}", metric_names(expr)) for name, expr in alert_expressions()]
    assert all(names for _, names in used), "an expression selects no metric"
    assert "celery_queue_length" in exported and "hauler_autoscaler_workers" in exported
    # the autoscaler exports its policy, which the latency alert compares with
    assert 'hauler_autoscaler_target_latency_seconds{queue="health"} 10.0' in text
    assert 'hauler_autoscaler_min_workers{queue="health"} 0.0' in text
    gaps = missing_names(used, exported)
    absent = sorted(set().union(*gaps.values())) if gaps else []
    assert not gaps, f"names no live Hauler process exports: {absent}\n" + "\n".join(
        f"  {where}: {sorted(names)}" for where, names in gaps.items()
    )
