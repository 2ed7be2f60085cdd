"""Backups against a real PostgreSQL (pg_dump/pg_restore 15) and real SQLite files.

Made, verified by a scratch restore, corrupted and caught, restored with the same row
counts, pruned and vacuumed; the tasks on a real worker, their events through a real
recorder into the activity log and /metrics.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import stat
import subprocess
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from celery import Celery
from sqlalchemy import create_engine, text

from hauler.backups import catalog, service
from hauler.backups.engines import BackupEngine, PostgresEngine, SqliteEngine
from hauler.backups.settings import BackupSettings
from hauler.paths import file_sha256
from hauler.settings import Settings
from hauler.store.db import normalize_url
from hauler.store.migrate import upgrade
from tests.integration.backup_contract import BackupEngineContract
from tests.integration.services import PG_URL, require_binary, wait_for

pytestmark = pytest.mark.integration

Events = list[tuple[str, dict[str, Any]]]


@pytest.fixture
def events() -> Events:
    return []


def collect(into: Events) -> Callable[..., None]:
    def emit(kind: str, **fields: Any) -> None:
        into.append((kind, fields))

    return emit


def seed_pg(url: str, rows: int) -> None:
    """``rows`` activity rows and a few dead letters, in the test's schema."""
    engine = create_engine(normalize_url(url))
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO activity (occurred_at, recorded_at, event_type, task_id, task_name,"
                " queue, correlation_id, status, payload) SELECT now(), now(), 'task-succeeded',"
                " md5(g::text), 'downloads.fetch', 'downloads', md5((g / 7)::text), 'SUCCESS',"
                " jsonb_build_object('runtime', g * 0.001, 'result', md5(g::text)) "
                "FROM generate_series(1, :n) AS g"
            ),
            {"n": rows},
        )
    engine.dispose()


def flip(path: Path, at_fraction: float, count: int = 64) -> None:
    """Invert ``count`` bytes in the middle of the file (where the table data is)."""
    data = bytearray(path.read_bytes())
    start = int(len(data) * at_fraction)
    for i in range(start, start + count):
        data[i] ^= 0xFF
    path.write_bytes(bytes(data))


def scratch_left(label: str) -> list[str]:
    engine = create_engine(normalize_url(PG_URL))
    with engine.connect() as connection:
        names = connection.execute(
            text("SELECT datname FROM pg_database WHERE datname LIKE :p"),
            {"p": f"hauler_scratch_{label}_%"},
        ).scalars()
        found = list(names)
    engine.dispose()
    return found


@pytest.fixture
def other_database(pg_server: str) -> Iterator[str]:
    """An empty database on the test server, dropped afterwards."""
    name = f"backups_rt_{uuid.uuid4().hex[:10]}"
    admin = create_engine(normalize_url(pg_server), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    yield pg_server.rsplit("/", 1)[0] + f"/{name}"
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def test_postgresql_backup_verifies_and_a_corrupted_copy_fails_on_restore(
    pg_url: str, tmp_path: Path, events: Events
) -> None:
    pg_restore = require_binary("pg_restore")
    # given 20,000 activity rows
    seed_pg(pg_url, 20_000)
    settings = Settings(database_url=pg_url, data_dir=tmp_path)
    # when a backup is made
    made = service.run(settings, emit=collect(events))
    path = Path(made["path"])
    assert path.parent == tmp_path / "backups" and path.suffix == ".dump"
    assert made["status"] == "made" and made["row_counts"]["activity"] == 20_000
    assert made["sha256"] == file_sha256(path) and made["bytes"] == path.stat().st_size
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    # then verification restores it into a scratch database with the same counts
    verified = service.verify(settings, made["id"], emit=collect(events))
    assert verified["status"] == "verified", verified["error"]
    assert verified["restored_counts"] == made["row_counts"]
    assert scratch_left("verify") == []
    # given a copy with 64 bytes flipped inside the table data, catalogued with its own
    # checksum (as if the dump had been damaged before it was hashed)
    copy = path.with_name("damaged.dump")
    shutil.copyfile(path, copy)
    flip(copy, 0.6)
    listing = subprocess.run([pg_restore, "-l", str(copy)], capture_output=True, text=True)
    assert listing.returncode == 0 and "TABLE DATA" in listing.stdout  # -l alone is fooled
    damaged = catalog.add(
        settings,
        database=made["database"],
        kind="postgresql",
        path=str(copy),
        sha256=file_sha256(copy),
        bytes=copy.stat().st_size,
        started_at=catalog.now(),
        finished_at=catalog.now(),
        seconds=0.0,
        row_counts=made["row_counts"],
        status="made",
    )
    # when it is verified, then it is bad, and backup.bad says why
    result = service.verify(settings, damaged.id, emit=collect(events))
    assert result["status"] == "bad"
    assert "pg_restore" in result["error"]
    assert catalog.get(settings, damaged.id).status == "bad"  # type: ignore[union-attr]
    bad = [fields for kind, fields in events if kind == "backup.bad"]
    assert [b["backup_id"] for b in bad] == [damaged.id]
    assert [kind for kind, _ in events] == ["backup.made", "backup.verified", "backup.bad"]
    assert catalog.last_verified(settings).id == made["id"]  # type: ignore[union-attr]
    assert scratch_left("verify") == []
    # and the original, damaged in place, fails on its checksum
    flip(path, 0.5, count=1)
    again = service.verify(settings, made["id"], emit=collect(events))
    assert again["status"] == "bad" and "checksum mismatch" in again["error"]


def test_restore_round_trip_through_the_cli_keeps_the_password_off_argv(
    pg_url: str,
    hauler_env: dict[str, str],
    hauler_cli: Any,
    other_database: str,
    tmp_path: Path,
) -> None:
    # given a database URL with a password (trust auth ignores it) and a pg_dump that
    # notes its argv and environment before it runs the real one
    secret = "Sekr1t-" + uuid.uuid4().hex[:8]
    live = pg_url.replace("postgres@", f"postgres:{secret}@", 1)
    notes = tmp_path / "pg_dump.argv"
    wrapper = tmp_path / "pg_dump"
    wrapper.write_text(
        "#!/bin/sh\n"
        f'printf "%s\\n" "$*" > {notes}\n'
        f'[ "$PGPASSWORD" = "{secret}" ] && echo "env has it" >> {notes}\n'
        f'exec {require_binary("pg_dump")} "$@"\n'
    )
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    hauler_env.update(HAULER_DATABASE_URL=live, HAULER_BACKUP_PG_DUMP=str(wrapper))
    seed_pg(pg_url, 3_000)
    # when `hauler backup run` makes (and verifies) a backup
    ran = hauler_cli("backup", "run", "--json")
    assert ran.returncode == 0, ran.stderr
    made = json.loads(ran.stdout)
    assert made["status"] == "verified" and made["row_counts"]["activity"] == 3_000
    argv = notes.read_text()
    assert "env has it" in argv and secret not in argv.splitlines()[0]
    assert secret not in ran.stdout + ran.stderr
    # then it restores into another database with the same row counts
    restored = hauler_cli("backup", "restore", str(made["id"]), "--to", other_database)
    assert restored.returncode == 0, restored.stderr
    schema = pg_url.rsplit("%3D", 1)[1]
    engine = create_engine(normalize_url(other_database))
    with engine.connect() as connection:
        count = connection.execute(text(f'SELECT count(*) FROM "{schema}".activity')).scalar()
    engine.dispose()
    assert count == 3_000
    assert json.loads(restored.stdout.rsplit("}", 1)[0] + "}")["matches"] is True
    # and into it again only with --yes; into the live database never without it
    twice = hauler_cli("backup", "restore", str(made["id"]), "--to", other_database)
    assert twice.returncode == 1 and "--yes" in twice.stderr
    refused = hauler_cli("backup", "restore", str(made["id"]), "--to", live)
    assert refused.returncode == 1 and "live database" in refused.stderr
    assert secret not in refused.stderr
    # and with --yes (no worker alive) it replaces the live data, keeping the catalog
    seed_pg(pg_url, 500)
    back = hauler_cli("backup", "restore", str(made["id"]), "--to", live, "--yes")
    assert back.returncode == 0, back.stderr
    assert secret not in back.stdout + back.stderr
    engine = create_engine(normalize_url(pg_url))
    with engine.connect() as connection:
        count = connection.execute(text("SELECT count(*) FROM activity")).scalar()
        kept = connection.execute(text("SELECT id, status FROM backups")).all()
    engine.dispose()
    assert count == 3_000 and [tuple(row) for row in kept] == [(made["id"], "verified")]
    listed = hauler_cli("backup", "list")
    assert listed.returncode == 0 and f"{made['id']:>5}" in listed.stdout
    pruned = hauler_cli("backup", "prune", "--dry-run", "--json")
    assert pruned.returncode == 0 and json.loads(pruned.stdout)["kept"] == [made["id"]]
    vacuumed = hauler_cli("vacuum", "--json")
    assert vacuumed.returncode == 0 and json.loads(vacuumed.stdout)["tables"] >= 7


def test_tasks_on_a_worker_record_events_metrics_and_refuse_a_live_restore(
    hauler_env: dict[str, str],
    start_worker: Any,
    recorder: Any,
    client_app: Celery,
    hauler_cli: Any,
    pg_url: str,
) -> None:
    # given a worker on the backups and uploads queues, a recorder and an off-site copy
    offsite = Path(hauler_env["HAULER_DATA_DIR"]) / "offsite"
    offsite.mkdir(parents=True)
    hauler_env["HAULER_BACKUP_UPLOAD"] = f"file://{offsite}"
    start_worker(["backups", "uploads"])
    seed_pg(pg_url, 1_000)
    # when backups.run is sent by name, then it comes back verified
    made = client_app.send_task("backups.run", queue="backups").get(timeout=120)
    assert made["status"] == "verified"
    assert made["row_counts"]["activity"] >= 1_000  # and the task events recorded so far
    assert made["restored_counts"] == made["row_counts"]
    # and uploads.push copies it off-site
    copy = offsite / Path(made["path"]).name
    client_app.AsyncResult(made["upload"]["task_id"]).get(timeout=60)
    assert file_sha256(copy) == made["sha256"]
    # and a live restore is refused while that worker is alive, even with --yes
    refused = hauler_cli("backup", "restore", str(made["id"]), "--to", pg_url, "--yes")
    assert refused.returncode == 1 and "still alive" in refused.stderr, refused.stderr
    # when the file is damaged and backups.verify runs, then the backup is bad
    flip(Path(made["path"]), 0.5)
    bad = client_app.send_task("backups.verify", args=[made["id"]], queue="backups").get(
        timeout=120
    )
    assert bad["status"] == "bad" and "checksum" in bad["error"]
    # and the activity log and the metrics say so
    engine = create_engine(normalize_url(pg_url))

    def kinds() -> list[str]:
        with engine.connect() as connection:
            return list(
                connection.execute(
                    text(
                        "SELECT event_type FROM activity WHERE event_type LIKE 'backup.%' "
                        "ORDER BY occurred_at"
                    )
                ).scalars()
            )

    assert wait_for(lambda: len(kinds()) == 3 and kinds()) == [
        "backup.made",
        "backup.verified",
        "backup.bad",
    ]
    engine.dispose()
    port = hauler_env["HAULER_RECORDER_PORT"]

    def metrics() -> str:
        body = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        return body if 'hauler_backups_total{outcome="bad"} 1.0' in body else ""

    body = wait_for(metrics)
    database = made["database"]
    assert f'hauler_backup_last_verified_timestamp_seconds{{database="{database}"}}' in body
    assert 'hauler_backups_total{outcome="made"} 1.0' in body


def seed_sqlite(path: Path, rows: int) -> None:
    with sqlite3.connect(path) as connection:
        connection.executemany(
            "INSERT INTO activity (occurred_at, recorded_at, event_type, payload) "
            "VALUES (?, ?, 'task-succeeded', ?)",
            [
                ("2026-12-01 00:00:00", "2026-12-01 00:00:00", json.dumps({"n": "x" * 200}))
                for _ in range(rows)
            ],
        )


@pytest.fixture
def sqlite_settings(tmp_path: Path) -> Settings:
    url = f"sqlite:///{tmp_path}/hauler.db"
    upgrade(url)
    return Settings(database_url=url, data_dir=tmp_path)


def test_sqlite_backup_verify_corruption_restore_and_vacuum(
    sqlite_settings: Settings, tmp_path: Path, events: Events
) -> None:
    settings = sqlite_settings
    seed_sqlite(tmp_path / "hauler.db", 2_000)
    # when a backup is made and verified
    made = service.run(settings, emit=collect(events))
    assert made["row_counts"]["activity"] == 2_000
    assert service.verify(settings, made["id"])["status"] == "verified"
    # then a copy with damaged pages fails its integrity check
    copy = Path(made["path"]).with_name("damaged.sqlite3")
    shutil.copyfile(made["path"], copy)
    flip(copy, 0.5, count=4096)
    damaged = catalog.add(
        settings,
        database=made["database"],
        kind="sqlite",
        path=str(copy),
        sha256=file_sha256(copy),
        bytes=copy.stat().st_size,
        started_at=catalog.now(),
        row_counts=made["row_counts"],
        status="made",
    )
    result = service.verify(settings, damaged.id, emit=collect(events))
    assert result["status"] == "bad"
    assert "integrity_check" in result["error"] or "malformed" in result["error"]
    assert [kind for kind, _ in events] == ["backup.made", "backup.bad"]
    # and the good one restores into a new file with the same counts
    restored = service.restore(settings, made["id"], f"sqlite:///{tmp_path}/restored.db")
    assert restored["matches"] and restored["restored_counts"]["activity"] == 2_000
    # when most rows are deleted, then VACUUM gives the space back
    with sqlite3.connect(tmp_path / "hauler.db") as connection:
        connection.execute("DELETE FROM activity WHERE id > 100")
    vacuumed = service.vacuum(settings)
    assert vacuumed["reclaimed_bytes"] > 200_000, vacuumed


def test_prune_deletes_what_the_policy_does_not_keep(
    sqlite_settings: Settings, events: Events
) -> None:
    # given five backups, catalogued as taken on five days, one of them bad
    settings = replace(
        sqlite_settings,
        backups=replace(
            sqlite_settings.backups, keep_last=1, keep_daily=2, keep_weekly=0, keep_monthly=0
        ),
    )
    now = datetime.now(UTC)
    made = [service.run(settings) for _ in range(5)]
    for age, backup in zip((0, 1, 2, 3, 20), made, strict=True):
        catalog.update(settings, backup["id"], started_at=now - timedelta(days=age))
    catalog.update(settings, made[1]["id"], status="bad")
    # when prune runs
    result = service.prune(settings, now=now, emit=collect(events))
    # then: the newest (last, daily), the bad one (grace), the next good day (daily) stay
    assert result["kept"] == sorted([made[0]["id"], made[1]["id"], made[2]["id"]])
    assert sorted(result["pruned"]) == sorted([made[3]["id"], made[4]["id"]])
    for backup in made[3:]:
        assert not Path(backup["path"]).exists()
        assert catalog.get(settings, backup["id"]).status == "pruned"  # type: ignore[union-attr]
    assert all(Path(b["path"]).exists() for b in made[:3])
    assert events == [
        ("backup.pruned", {"backup_ids": result["pruned"], "count": 2, "bytes": result["bytes"]})
    ]


def test_postgresql_vacuum_reports_reclaimed_bytes(pg_url: str, tmp_path: Path) -> None:
    seed_pg(pg_url, 20_000)
    engine = create_engine(normalize_url(pg_url))
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM activity"))
    engine.dispose()
    result = service.vacuum(Settings(database_url=pg_url, data_dir=tmp_path))
    assert result["kind"] == "postgresql" and result["tables"] >= 7
    assert result["reclaimed_bytes"] > 1_000_000, result


def test_a_missing_or_too_old_pg_dump_is_a_clear_permanent_failure(
    pg_url: str, tmp_path: Path
) -> None:
    from hauler.errors import BackupFailed

    old = tmp_path / "pg_dump13"
    old.write_text('#!/bin/sh\necho "pg_dump (PostgreSQL) 13.16"\n')
    old.chmod(0o755)
    base = Settings(database_url=pg_url, data_dir=tmp_path)
    for program, message in (
        (str(tmp_path / "absent"), "is not installed"),
        (str(old), "install postgresql-client-15"),
    ):
        settings = replace(base, backups=replace(base.backups, pg_dump=program))
        with pytest.raises(BackupFailed, match=message):
            service.run(settings)
    failed = catalog.listing(base, statuses=("failed",))
    assert len(failed) == 2 and "postgresql-client-15" in (failed[0].error or "")
    assert catalog.latest(base) is None and not list((tmp_path / "backups").glob("*"))


class TestPostgresEngine(BackupEngineContract):
    @pytest.fixture
    def engine(self, pg_url: str) -> BackupEngine:
        return PostgresEngine(pg_url, BackupSettings())

    @pytest.fixture
    def seed(self, pg_url: str) -> Callable[[int], None]:
        return lambda rows: seed_pg(pg_url, rows)

    @pytest.fixture
    def fresh_url(self, other_database: str) -> str:
        return other_database


class TestSqliteEngine(BackupEngineContract):
    @pytest.fixture
    def engine(self, sqlite_settings: Settings) -> BackupEngine:
        return SqliteEngine(sqlite_settings.database_url)

    @pytest.fixture
    def seed(self, tmp_path: Path) -> Callable[[int], None]:
        return lambda rows: seed_sqlite(tmp_path / "hauler.db", rows)

    @pytest.fixture
    def fresh_url(self, tmp_path: Path) -> str:
        return f"sqlite:///{tmp_path}/fresh.db"
