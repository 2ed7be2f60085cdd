"""Deployment ids, Flower's stored login, the listen address and beat's run stamps."""

from __future__ import annotations

import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from celery.schedules import crontab, schedule

from hauler.deployment import DEPLOYMENT_ENV, belongs, deployment_id, mark
from hauler.errors import ConfigurationError
from hauler.flower import CREDENTIALS_FILE, environment, login, write_scrape_password
from hauler.settings import Settings
from workers.scheduler import due_second


def settings(tmp_path: Path, **env: str) -> Settings:
    return Settings.from_env({"HAULER_DATA_DIR": str(tmp_path), **env})


def test_deployment_id_names_broker_database_and_data_dir_without_the_password(
    tmp_path: Path,
) -> None:
    # given: stacks that differ by Redis database, by data dir, or only by password
    base = settings(tmp_path, HAULER_BROKER_URL="redis://:hunter2@127.0.0.1:6379/0")
    other_db = settings(tmp_path, HAULER_BROKER_URL="redis://:hunter2@127.0.0.1:6379/1")
    other_dir = settings(tmp_path / "b", HAULER_BROKER_URL="redis://:hunter2@127.0.0.1:6379/0")
    explicit = settings(tmp_path, HAULER_DEPLOYMENT="blue")

    # when / then: database and data dir tell deployments apart; the id reveals no secret
    assert len({deployment_id(s) for s in (base, other_db, other_dir)}) == 3
    assert "hunter2" not in deployment_id(base)
    assert deployment_id(explicit) == "blue"
    child = mark({"PATH": "/bin"}, base)
    assert child[DEPLOYMENT_ENV] == deployment_id(base) and child["PATH"] == "/bin"
    assert belongs(child, base) and not belongs(child, other_db) and not belongs({}, base)


def test_flower_login_is_generated_once_and_stored_private(tmp_path: Path) -> None:
    # given: a fresh data dir
    config = settings(tmp_path)

    # when: the login is asked for twice
    first, second = login(config), login(config)

    # then: made once (0600), the same afterwards; a configured login wins, same cookie secret
    path = tmp_path / CREDENTIALS_FILE
    assert first.generated and not second.generated
    assert first.basic_auth == second.basic_auth and first.user == "admin"
    assert first.cookie_secret == second.cookie_secret and len(first.cookie_secret) >= 40
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    configured = login(settings(tmp_path, HAULER_FLOWER_BASIC_AUTH="ops:pw"))
    assert (configured.basic_auth, configured.generated, configured.configured) == (
        "ops:pw",
        False,
        True,
    )
    assert configured.cookie_secret == first.cookie_secret


def test_a_configured_cookie_secret_wins_and_a_short_one_is_refused(tmp_path: Path) -> None:
    secret = "s" * 40
    assert login(settings(tmp_path, HAULER_FLOWER_COOKIE_SECRET=secret)).cookie_secret == secret
    assert login(settings(tmp_path)).cookie_secret != secret  # the stored one otherwise
    with pytest.raises(ConfigurationError, match="HAULER_FLOWER_COOKIE_SECRET"):
        settings(tmp_path, HAULER_FLOWER_COOKIE_SECRET="short")


def test_the_scrape_login_is_added_only_with_a_password_file_that_holds_its_password(
    tmp_path: Path,
) -> None:
    # given: one stack without a scrape password file and one with it
    plain = settings(tmp_path, HAULER_FLOWER_BASIC_AUTH="ops:pw")
    target = tmp_path / "prom" / "flower-password"
    scraped = settings(
        tmp_path, HAULER_FLOWER_BASIC_AUTH="ops:pw", HAULER_FLOWER_SCRAPE_PASSWORD_FILE=str(target)
    )

    # when: their logins are made and the password file written
    without, with_scrape = login(plain), login(scraped)
    written = write_scrape_password(scraped, with_scrape)

    # then: Flower gets `prometheus:<password>` beside the operator's login only in the
    # second; the file holds that password alone, readable by Prometheus; it is stable
    assert environment({}, without)["FLOWER_BASIC_AUTH"] == "ops:pw"
    assert write_scrape_password(plain, without) is None
    password = target.read_text()
    assert written == target and len(password) >= 20
    assert environment({}, with_scrape)["FLOWER_BASIC_AUTH"] == f"ops:pw,prometheus:{password}"
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    assert login(scraped).scrape_password == password


def test_a_login_stored_before_scrape_logins_existed_gains_one_and_keeps_the_rest(
    tmp_path: Path,
) -> None:
    (tmp_path / CREDENTIALS_FILE).write_text('{"basic_auth": "admin:old", "cookie_secret": "c"}')
    config = settings(tmp_path, HAULER_FLOWER_SCRAPE_PASSWORD_FILE=str(tmp_path / "pw"))
    first, second = login(config), login(config)
    assert (first.basic_auth, first.cookie_secret) == ("admin:old", "c")
    assert first.scrape_password and first.scrape_password == second.scrape_password
    assert stat.S_IMODE((tmp_path / CREDENTIALS_FILE).stat().st_mode) == 0o600


def test_a_broken_stored_login_is_a_clear_configuration_error(tmp_path: Path) -> None:
    (tmp_path / CREDENTIALS_FILE).write_text("{not json")
    with pytest.raises(ConfigurationError, match="delete it"):
        login(settings(tmp_path))


@pytest.mark.parametrize("address", ["example.invalid", "localhost", "127.0.0.1:80"])
def test_a_listen_address_must_be_an_ip(tmp_path: Path, address: str) -> None:
    with pytest.raises(ConfigurationError, match="HAULER_LISTEN_ADDRESS"):
        settings(tmp_path, HAULER_LISTEN_ADDRESS=address)


def test_listen_address_defaults_to_loopback(tmp_path: Path) -> None:
    assert settings(tmp_path).listen_address == "127.0.0.1"
    assert settings(tmp_path, HAULER_LISTEN_ADDRESS="::1").listen_address == "::1"


def test_a_scheduled_run_is_named_by_when_it_was_due_not_when_it_was_sent() -> None:
    # given: an entry every 10 s that last ran at a known second, and a daily crontab
    last = datetime(2026, 12, 1, 9, 0, 0, 250000, tzinfo=UTC)
    every_10s = schedule(timedelta(seconds=10))
    daily = crontab(hour="3", minute="17")

    # when / then: every send of one period names the same second, the next period another
    assert due_second(every_10s, last) == int((last + timedelta(seconds=10)).timestamp())
    assert due_second(every_10s, last) == due_second(every_10s, last)
    assert due_second(every_10s, last + timedelta(seconds=10)) - due_second(every_10s, last) == 10
    cron_due = due_second(daily, last)
    assert cron_due % 60 == 0
    assert datetime.fromtimestamp(cron_due, UTC).strftime("%H:%M") == "03:17"
