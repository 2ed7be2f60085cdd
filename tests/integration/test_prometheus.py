"""deploy/prometheus.yml and the alert rules pass promtool: config, rules and rule unit tests."""

from __future__ import annotations

import subprocess

import pytest
import yaml

from tests.integration.services import require_binary
from tests.support.promql import ALERTS, PROMETHEUS_CONFIG, RULE_TESTS

pytestmark = pytest.mark.integration


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [require_binary("promtool"), *args], capture_output=True, text=True, timeout=60
    )


def test_the_scrape_config_is_valid_and_loads_the_rules() -> None:
    done = promtool("check", "config", str(PROMETHEUS_CONFIG))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS: 1 rule files found" in done.stdout, done.stdout
    config = yaml.safe_load(PROMETHEUS_CONFIG.read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert set(jobs) == {"hauler-recorder", "hauler-autoscaler", "flower"}
    flower_auth = jobs["flower"]["basic_auth"]
    assert "password" not in flower_auth and flower_auth["password_file"], flower_auth


def test_the_alert_rules_are_valid() -> None:
    done = promtool("check", "rules", str(ALERTS))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS: 9 rules found" in done.stdout, done.stdout


def test_every_rule_group_has_unit_tests_that_fire_and_stay_silent() -> None:
    # given one promtool test file per rule group
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    files = sorted(RULE_TESTS.glob("*.test.yml"))
    by_alert: dict[str, list[list[object]]] = {}
    for path in files:
        for case in yaml.safe_load(path.read_text())["tests"]:
            for check in case.get("alert_rule_test", []):
                by_alert.setdefault(check["alertname"], []).append(check["exp_alerts"])
    # then every rule is tested both firing and not firing (pending or resolved)
    for group in groups:
        for rule in group["rules"]:
            cases = by_alert.get(rule["alert"], [])
            assert any(cases) and any(not c for c in cases), f"{rule['alert']}: {cases}"
    assert len(files) == len(groups)

    # when promtool runs them, then each passes
    done = promtool("test", "rules", *map(str, files))
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("SUCCESS") == len(files), done.stdout
