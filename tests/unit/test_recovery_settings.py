"""Recovery's settings and its schedule: 5, 10, 20 minutes by default, jittered, capped."""

from __future__ import annotations

import pytest

from hauler.errors import ConfigurationError
from hauler.recovery.schedule import attempt_delay
from hauler.recovery.settings import RecoverySettings
from hauler.settings import Settings


def test_default_waits_are_5_10_20_minutes_and_never_more():
    plain = RecoverySettings(jitter=False)
    assert [attempt_delay(n, plain) for n in range(5)] == [300, 600, 1200, 1200, 1200]


def test_jitter_draws_from_half_to_the_whole_wait():
    settings = RecoverySettings()
    assert attempt_delay(1, settings, rand=lambda: 0.0) == 300
    assert attempt_delay(1, settings, rand=lambda: 0.999) == pytest.approx(599.7)


def test_arr_apps_come_from_their_url_and_key_and_the_key_is_not_shown():
    settings = Settings.from_env(
        {
            "HAULER_ARR_SONARR_URL": "http://127.0.0.1:8989/",
            "HAULER_ARR_SONARR_API_KEY": "abcdef0123456789",
            "HAULER_RECOVERY_FOREIGN": "Recover",
            "HAULER_POLL_CATEGORIES": "tv-sonarr, movies",
            "HAULER_RECOVERY_MAX_ATTEMPTS": "2",
        }
    )
    recovery = settings.recovery
    (app,) = recovery.arr
    assert (app.name, app.url) == ("sonarr", "http://127.0.0.1:8989")
    assert "abcdef0123456789" not in repr(recovery)
    assert recovery.secrets() == ("abcdef0123456789",)
    assert recovery.foreign == "recover" and recovery.max_attempts == 2
    assert recovery.poll_categories == ("tv-sonarr", "movies")


def test_bad_recovery_settings_are_named_each_on_a_line():
    with pytest.raises(ConfigurationError) as raised:
        Settings.from_env(
            {
                "HAULER_RECOVERY_FOREIGN": "sometimes",
                "HAULER_ARR_RADARR_URL": "http://127.0.0.1:7878",
            }
        )
    problems = raised.value.problems
    assert any("HAULER_RECOVERY_FOREIGN" in p for p in problems)
    assert any("HAULER_ARR_RADARR_API_KEY" in p for p in problems)


def test_the_redis_visibility_timeout_outlasts_the_longest_recovery_wait():
    settings = Settings.from_env({"HAULER_RECOVERY_BACKOFF_MAX": "90000"})
    assert settings.effective_visibility_timeout > 90000


def test_mirrors_are_checked_like_the_url_and_named_in_errors(tmp_path):
    from hauler.downloads import fetch
    from hauler.errors import InvalidArgument

    settings = Settings.from_env({"HAULER_DATA_DIR": str(tmp_path)})
    url = "http://127.0.0.1:1/a.bin"
    request = fetch.validate(
        settings, url, None, None, "auto", None, None, ["http://127.0.0.1:2/a.bin"]
    )
    assert request.mirrors == ("http://127.0.0.1:2/a.bin",)
    assert fetch.validate(settings, url, None, None, "auto", None, None).mirrors == ()
    for bad, why in (
        ("http://127.0.0.1:2/a.bin", "list"),
        ([url], "repeats"),
        (["gopher://x/y"], "entry 0"),
        ([str(tmp_path / "absent.nzb")], "entry 0"),
        ([f"http://127.0.0.1:{n}/a" for n in range(9)], "at most"),
    ):
        with pytest.raises(InvalidArgument, match=why) as raised:
            fetch.validate(settings, url, None, None, "auto", None, None, bad)
        assert raised.value.argument == "mirrors"


@pytest.mark.parametrize(
    ("changes", "argument"),
    [
        ({"client": ""}, "client"),
        ({"job_id": 7}, "job_id"),
        ({"job_id": "x" * 129}, "job_id"),
        ({"state": "broken"}, "state"),
        ({"details": ["a"]}, "details"),
        ({"transfer_id": "12"}, "transfer_id"),
        ({"failure_id": True}, "failure_id"),
    ],
)
def test_recovery_recover_names_a_bad_argument(changes, argument):
    from hauler.errors import InvalidArgument
    from tasks.recovery import _report

    given = {
        "client": "aria2",
        "job_id": "abc",
        "state": "failed",
        "status": "error/29",
        "message": None,
        "details": {},
        "transfer_id": None,
        "task_id": None,
        "monitored_id": None,
        "name": "",
        "failure_id": None,
        "due": False,
    }
    with pytest.raises(InvalidArgument) as raised:
        _report(**{**given, **changes})
    assert raised.value.argument == argument
    report = _report(**given)
    assert (report.client, report.job_id, report.details) == ("aria2", "abc", {})
