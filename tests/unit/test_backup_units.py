"""Backups without servers: connection environment, names, settings, counts, metrics."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from hauler.backups import pg, service
from hauler.backups.settings import BackupSettings
from hauler.env import EnvReader
from hauler.errors import BackupFailed, ConfigurationError, Unsupported
from hauler.recorder.backup_metrics import BackupMetrics
from hauler.redact import redact_text
from hauler.settings import Settings

URL = "postgresql://hauler:pw-s3cret-9@127.0.0.1:5433/hauler?options=-csearch_path%3Dtenant_a"


def test_target_reads_schema_and_puts_the_password_in_the_environment_only() -> None:
    target = pg.Target.parse(URL)
    assert target.schema == "tenant_a"
    assert target.name == "hauler/tenant_a"
    env = target.env()
    assert env["PGPASSWORD"] == "pw-s3cret-9"
    assert (env["PGHOST"], env["PGPORT"], env["PGUSER"], env["PGDATABASE"]) == (
        "127.0.0.1",
        "5433",
        "hauler",
        "hauler",
    )
    # once parsed, the password is masked in any error text that quotes it
    assert "pw-s3cret-9" not in redact_text("pg_dump: password pw-s3cret-9 refused")


def test_target_without_schema_covers_the_whole_database(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PGPASSWORD", "inherited-one")
    target = pg.Target.parse("postgresql://postgres@localhost/hauler")
    assert target.schema is None and target.name == "hauler"
    assert "PGPASSWORD" not in target.env()  # nothing inherited from the caller's libpq env


def test_kinds_and_names() -> None:
    assert service.kind_of("postgresql+psycopg2://x@h/db") == "postgresql"
    assert service.kind_of("sqlite:////var/lib/hauler/hauler.db") == "sqlite"
    assert service.database_name("sqlite:////var/lib/hauler/hauler.db") == "hauler.db"
    with pytest.raises(Unsupported, match="mysql"):
        service.kind_of("mysql://x@h/db")


def test_backup_files_are_named_by_database_and_time(tmp_path: Path) -> None:
    settings = Settings(database_url=URL, data_dir=tmp_path)
    moment = datetime(2026, 12, 1, 4, 0, 5, 123456, tzinfo=UTC)
    first = service.file_for(settings, URL, moment)
    assert first == tmp_path / "backups" / "hauler_tenant_a-20261201T040005.123Z.dump"
    first.parent.mkdir()
    first.touch()
    assert service.file_for(settings, URL, moment).name.endswith(".123Z-2.dump")


def test_compare_counts_names_the_tables_that_differ() -> None:
    service.compare_counts({"activity": 3, "backups": 1}, {"activity": 3, "backups": 1})
    with pytest.raises(
        BackupFailed,
        match=r"activity: 3 recorded, 2 restored; downloads: 1 recorded, absent restored",
    ):
        service.compare_counts({"activity": 3, "downloads": 1}, {"activity": 2})


def test_settings_defaults_and_problems() -> None:
    defaults = BackupSettings.from_env(EnvReader({}))
    assert (defaults.keep_last, defaults.keep_daily, defaults.keep_weekly) == (7, 7, 4)
    assert defaults.keep_monthly == 6 and defaults.directory is None and defaults.upload == ""
    with pytest.raises(ConfigurationError) as caught:
        Settings.from_env({"HAULER_BACKUP_UPLOAD": "ftp://host/x", "HAULER_BACKUP_KEEP_LAST": "0"})
    text = str(caught.value)
    assert "HAULER_BACKUP_UPLOAD" in text and "HAULER_BACKUP_KEEP_LAST=0" in text
    chosen = Settings.from_env(
        {"HAULER_BACKUP_DIR": "/srv/backups", "HAULER_BACKUP_UPLOAD": "s3://bucket/hauler/"}
    ).backups
    assert chosen.directory == Path("/srv/backups") and chosen.upload == "s3://bucket/hauler"


def _sample(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, labels)


def test_metrics_follow_backup_events() -> None:
    registry = CollectorRegistry()
    metrics = BackupMetrics(registry)
    made = datetime(2026, 12, 1, 4, tzinfo=UTC)
    metrics.observe("backup.made", {"database": "hauler", "finished_at": made.isoformat()})
    metrics.observe("backup.verified", {"database": "hauler", "verified_at": made.isoformat()})
    metrics.observe("backup.bad", {"database": "hauler", "error": "checksum"})
    older = datetime(2026, 11, 1, tzinfo=UTC).isoformat()
    metrics.observe("backup.made", {"database": "hauler", "finished_at": older})
    metrics.task_failed("backups.run")
    metrics.task_failed("downloads.fetch")
    metrics.observe("download.finished", {"bytes": 3})
    gauge = "hauler_backup_last_made_timestamp_seconds"
    assert _sample(registry, gauge, database="hauler") == made.timestamp()  # never goes back
    verified = "hauler_backup_last_verified_timestamp_seconds"
    assert _sample(registry, verified, database="hauler") == made.timestamp()
    counts = {
        outcome: _sample(registry, "hauler_backups_total", outcome=outcome)
        for outcome in ("made", "verified", "bad", "failed")
    }
    assert counts == {"made": 2.0, "verified": 1.0, "bad": 1.0, "failed": 1.0}
