"""Hauler's backup of a generated database against plain ``pg_dump -Fc`` of the same one.

A database of its own (created and dropped here) gets Hauler's schema and about a
million activity rows. Then, alternating, in the same run: plain ``pg_dump -Fc`` to a
file (the baseline) and ``backups.run``'s body (one exported snapshot, the row counts
under it, the same ``pg_dump -Fc``, fsync, sha256, the catalog row). Prints the times,
the dump step's ratio (best of the rounds, and the median; target <= 1.15) and what
verification (checksum, a full read, a restore into a scratch database and the counts)
adds on top.

    python bench/backup.py [--rows 1000000] [--rounds 3] [--pg postgresql://postgres@127.0.0.1/test]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TARGET = 1.15


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()

    from sqlalchemy import create_engine, text

    from hauler.backups import pg, service
    from hauler.paths import file_sha256
    from hauler.settings import Settings
    from hauler.store.db import normalize_url
    from hauler.store.migrate import upgrade

    name = f"hauler_bench_backup_{uuid.uuid4().hex[:8]}"
    server = args.pg.rsplit("/", 1)[0]
    url = f"{server}/{name}"
    admin = create_engine(normalize_url(args.pg), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        upgrade(url)
        started = time.monotonic()
        _generate(url, args.rows)
        print(f"generated {args.rows:,} activity rows in {time.monotonic() - started:.1f} s")
        target = pg.Target.parse(url)
        with tempfile.TemporaryDirectory(prefix="bench-backup-") as work:
            settings = Settings(database_url=url, data_dir=Path(work))
            plain, hauler, sizes = [], [], []
            for round_ in range(args.rounds):
                out = Path(work) / f"plain-{round_}.dump"
                clock = time.monotonic()
                subprocess.run(["pg_dump", "-Fc", "-f", str(out)], env=target.env(), check=True)
                plain.append(time.monotonic() - clock)
                clock = time.monotonic()
                made = service.run(settings)
                hauler.append(time.monotonic() - clock)
                sizes.append((out.stat().st_size, made["bytes"]))
                out.unlink()
                print(
                    f"round {round_ + 1}: pg_dump -Fc {plain[-1]:.2f} s, "
                    f"Hauler {hauler[-1]:.2f} s ({made['row_counts']['activity']:,} rows counted)"
                )
            clock = time.monotonic()
            verified = service.verify(settings, made["id"])
            verify_seconds = time.monotonic() - clock
            clock = time.monotonic()
            subprocess.run(["pg_restore", "-f", os.devnull, made["path"]], check=True)
            read_seconds = time.monotonic() - clock
            clock = time.monotonic()
            pg.counts_of(target, None)
            count_seconds = time.monotonic() - clock
            clock = time.monotonic()
            file_sha256(Path(made["path"]))
            hash_seconds = time.monotonic() - clock
        base, ours = min(plain), min(hauler)
        ratio = ours / base
        median_ratio = statistics.median(hauler) / statistics.median(plain)
        print(f"dump files: pg_dump {sizes[-1][0]:,} bytes, Hauler {sizes[-1][1]:,} bytes")
        print(f"baseline (plain pg_dump -Fc, best of {args.rounds}): {base:.2f} s")
        print(f"Hauler backups.run dump step (best of {args.rounds}): {ours:.2f} s")
        print(
            f"dump step ratio Hauler / pg_dump: {ratio:.3f} best of {args.rounds} "
            f"(median {median_ratio:.3f}; target <= {TARGET})"
        )
        print(
            f"verification ({verified['status']}): {verify_seconds:.2f} s extra "
            f"= {verify_seconds / ours:.2f}x the dump step "
            "(checksum + pg_restore -f /dev/null + scratch restore + counts)"
        )
        print(f"  of which the full read (pg_restore -f /dev/null alone): {read_seconds:.2f} s")
        print(
            f"Hauler's own work, measured alone: row counts {count_seconds:.2f} s (run while "
            f"pg_dump runs), sha256 {hash_seconds:.2f} s, plus one fsync of the file"
        )
        return 0 if ratio <= TARGET and verified["status"] == "verified" else 1
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _generate(url: str, rows: int) -> None:
    """Activity rows shaped like the recorder's: task events with a small JSON payload."""
    from sqlalchemy import create_engine, text

    from hauler.store.db import normalize_url

    engine = create_engine(normalize_url(url))
    step = 250_000
    with engine.begin() as connection:
        for first in range(1, rows + 1, step):
            connection.execute(
                text(
                    "INSERT INTO activity (occurred_at, recorded_at, event_type, task_id,"
                    " task_name, queue, correlation_id, causation_id, status, hostname, payload)"
                    " SELECT now() - g * interval '1 second', now(), "
                    " (ARRAY['task-received','task-started','task-succeeded'])[1 + g % 3],"
                    " md5(g::text), 'downloads.fetch', 'downloads', md5((g / 9)::text),"
                    " md5((g / 3)::text), (ARRAY['RECEIVED','STARTED','SUCCESS'])[1 + g % 3],"
                    " 'w' || (g % 8) || '@host',"
                    " jsonb_build_object('runtime', (g % 1000) * 0.013, 'retries', g % 2,"
                    "   'result', jsonb_build_object('bytes', g * 17, 'sha256', md5(g::text)))"
                    " FROM generate_series(:a, :b) AS g"
                ),
                {"a": first, "b": min(rows, first + step - 1)},
            )
        connection.execute(text("ANALYZE activity"))
    engine.dispose()


if __name__ == "__main__":
    os.environ.setdefault("HAULER_LOG_LEVEL", "WARNING")
    sys.exit(main())
