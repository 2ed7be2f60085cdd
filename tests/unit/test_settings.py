"""Settings are read once from the environment and every bad value is reported."""

from __future__ import annotations

from pathlib import Path

import pytest

from hauler.errors import ConfigurationError
from hauler.settings import QUEUE_DEFAULTS, Settings


def test_defaults_need_no_environment(tmp_path: Path):
    settings = Settings.from_env({"HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path)})
    assert settings.broker_url == "redis://127.0.0.1:6379/0"
    assert settings.database_url == f"sqlite:///{tmp_path}/hauler/hauler.db"
    assert set(settings.queues) == set(QUEUE_DEFAULTS)
    assert settings.result_backend == settings.broker_url


def test_visibility_timeout_outlasts_every_hard_limit_and_retry_wait():
    settings = Settings.from_env({"HAULER_RETRY_BACKOFF_MAX": "90000"})
    assert settings.effective_visibility_timeout > 90000
    assert settings.effective_visibility_timeout > settings.longest_time_limit


def test_every_bad_value_is_reported_on_its_own_line():
    env = {
        "HAULER_BROKER_URL": "amqp://x",
        "HAULER_RETRY_MAX": "many",
        "HAULER_QUEUE_MEDIA_TIME_LIMIT": "10",
        "HAULER_RECORDER_PORT": "70000",
        "HAULER_RETRY_JITTER": "perhaps",
        "HAULER_VISIBILITY_TIMEOUT": "60",
    }
    with pytest.raises(ConfigurationError) as caught:
        Settings.from_env(env)
    problems = caught.value.problems
    assert len(problems) == 6
    joined = "\n".join(problems)
    for key in env:
        assert key in joined


def test_per_queue_limits_come_from_the_environment():
    settings = Settings.from_env(
        {"HAULER_QUEUE_MEDIA_SOFT_TIME_LIMIT": "100", "HAULER_QUEUE_MEDIA_TIME_LIMIT": "120"}
    )
    assert (settings.queues["media"].soft_time_limit, settings.queues["media"].time_limit) == (
        100,
        120,
    )


def test_imports_are_a_comma_separated_list():
    settings = Settings.from_env({"HAULER_IMPORTS": "a.tasks, b.tasks,"})
    assert settings.imports == ("a.tasks", "b.tasks")
