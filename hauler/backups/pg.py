"""PostgreSQL: ``pg_dump -Fc`` under one snapshot, full reads, scratch restores, vacuum.

The password travels to the client programs in ``PGPASSWORD`` (their environment),
never on their command line, so ``ps`` does not show it.
"""

from __future__ import annotations

import os
import re
import subprocess
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, bindparam, create_engine, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.pool import NullPool

from hauler.errors import BackupFailed, RetryableError
from hauler.redact import redact_text, register_secret
from hauler.store.db import normalize_url

_SEARCH_PATH = re.compile(r"-c\s*search_path\s*=\s*([^\s,]+)")
_SYSTEM_SCHEMAS = ("pg_catalog", "information_schema", "pg_toast")
#: libpq variables the URL decides: inherited values of these are dropped, so a stray
#: PGPASSWORD or PGHOST of the caller never redirects a dump (PGPASSFILE and the like stay).
_URL_ENV = frozenset(
    {
        "PGHOST",
        "PGHOSTADDR",
        "PGPORT",
        "PGUSER",
        "PGPASSWORD",
        "PGDATABASE",
        "PGOPTIONS",
        "PGSERVICE",
        "PGSSLMODE",
        "PGAPPNAME",
        "PGCONNECT_TIMEOUT",
    }
)
#: libpq environment variables taken from a URL's query string.
_QUERY_ENV = {
    "sslmode": "PGSSLMODE",
    "sslrootcert": "PGSSLROOTCERT",
    "sslcert": "PGSSLCERT",
    "sslkey": "PGSSLKEY",
    "connect_timeout": "PGCONNECT_TIMEOUT",
    "application_name": "PGAPPNAME",
}


@dataclass(frozen=True)
class Target:
    """One PostgreSQL database (and the schema Hauler's tables live in, if it says one)."""

    url: URL
    schema: str | None  # from options=-csearch_path=…; None = every non-system schema

    @classmethod
    def parse(cls, url: str) -> Target:
        parsed = make_url(normalize_url(url))
        options = parsed.query.get("options") or ""
        if isinstance(options, tuple):
            options = " ".join(options)
        found = _SEARCH_PATH.search(options)
        schema = found.group(1).strip('"') if found else None
        register_secret(parsed.password if isinstance(parsed.password, str) else None)
        return cls(parsed, schema)

    @property
    def name(self) -> str:
        """The catalog's name of this database: ``dbname`` or ``dbname/schema``."""
        base = self.url.database or "postgres"
        return f"{base}/{self.schema}" if self.schema else base

    def with_database(self, database: str) -> Target:
        """The same server and credentials, another database."""
        return Target(self.url.set(database=database), self.schema)

    def env(self) -> dict[str, str]:
        """libpq environment for the client programs (password included, never argv)."""
        env = {k: v for k, v in os.environ.items() if k not in _URL_ENV}
        pairs = {
            "PGHOST": self.url.host,
            "PGPORT": str(self.url.port) if self.url.port else None,
            "PGUSER": self.url.username,
            "PGPASSWORD": self.url.password,
            "PGDATABASE": self.url.database,
        }
        for key, name in _QUERY_ENV.items():
            value = self.url.query.get(key)
            pairs[name] = value if isinstance(value, str) else None
        env.update({k: str(v) for k, v in pairs.items() if v})
        return env


def connect(target: Target, *, isolation: str = "READ COMMITTED") -> Connection:
    """A new connection to ``target`` (its own engine, disposed with the connection)."""
    engine = create_engine(target.url, poolclass=NullPool, isolation_level=isolation)
    try:
        return engine.connect()
    except OperationalError as exc:
        engine.dispose()
        raise RetryableError(
            f"PostgreSQL {target.name} is unreachable: {_first_line(exc)}"
        ) from None


def quote(identifier: str) -> str:
    """``identifier`` as a quoted SQL identifier."""
    return '"' + identifier.replace('"', '""') + '"'


def tables(connection: Connection, schema: str | None) -> list[tuple[str, str]]:
    """(schema, table) of every ordinary table in scope, sorted."""
    query = (
        "SELECT table_schema, table_name FROM information_schema.tables "
        "WHERE table_type = 'BASE TABLE' AND table_schema NOT IN :system "
    )
    params: dict[str, object] = {"system": _SYSTEM_SCHEMAS}
    if schema is not None:
        query += "AND table_schema = :schema "
        params["schema"] = schema
    query += "ORDER BY 1, 2"
    statement = text(query).bindparams(bindparam("system", expanding=True))
    return [(row[0], row[1]) for row in connection.execute(statement, params)]


def row_counts(connection: Connection, schema: str | None) -> dict[str, int]:
    """Rows of every table in scope, keyed by table name (``schema.table`` outside public)."""
    counts: dict[str, int] = {}
    for table_schema, table in tables(connection, schema):
        key = table if schema is not None or table_schema == "public" else f"{table_schema}.{table}"
        sql = f"SELECT count(*) FROM {quote(table_schema)}.{quote(table)}"
        counts[key] = int(connection.execute(text(sql)).scalar_one())
    return counts


def server_major(connection: Connection) -> int:
    """The server's major version (15 for 15.4)."""
    return int(connection.execute(text("SHOW server_version_num")).scalar_one()) // 10000


def client_major(program: str) -> int:
    """The major version of a client program (15 for 'pg_dump (PostgreSQL) 15.4')."""
    out = _run([program, "--version"], env=dict(os.environ), timeout=30)
    found = re.search(r"(\d+)(?:\.\d+)?", out)
    if not found:
        raise BackupFailed(f"{program} --version said {out.strip()!r}, not a version")
    return int(found.group(1))


def dump(
    target: Target, path: Path, *, pg_dump: str, compress: int, timeout: int
) -> dict[str, int]:
    """``pg_dump -Fc`` of ``target`` into ``path``; return the row counts of the same snapshot.

    The counts and the dump read one exported snapshot, so the counts say exactly what
    the file holds even while workers keep writing.
    """
    connection = connect(target, isolation="REPEATABLE READ")
    try:
        major = server_major(connection)
        client = client_major(pg_dump)
        if client < major:
            raise BackupFailed(
                f"{pg_dump} is version {client} but the server is {major}; install "
                f"postgresql-client-{major} or set HAULER_BACKUP_PG_DUMP"
            )
        snapshot = str(connection.execute(text("SELECT pg_export_snapshot()")).scalar_one())
        argv = [pg_dump, "-Fc", f"-Z{compress}", "--no-password", f"--snapshot={snapshot}"]
        if target.schema is not None:
            argv.append(f"--schema={target.schema}")
        argv += ["-f", str(path)]
        process = _spawn(argv, target.env())
        try:  # count while pg_dump runs: same snapshot, so the same rows
            counts = row_counts(connection, target.schema)
        except BaseException:
            process.kill()
            process.wait()
            raise
        _wait(process, timeout=timeout, what=f"pg_dump of {target.name}", permanent=False)
        connection.rollback()
        return counts
    finally:
        _close(connection)


def full_read(path: Path, *, pg_restore: str, timeout: int) -> None:
    """Read every byte of the dump (``pg_restore -f /dev/null``); BackupFailed if it cannot."""
    _run(
        [pg_restore, "-f", os.devnull, str(path)],
        env=dict(os.environ),
        timeout=timeout,
        what="pg_restore -f /dev/null",
        permanent=True,
    )


def restore(
    path: Path, target: Target, *, pg_restore: str, timeout: int, clean: bool = False
) -> None:
    """Restore the dump into ``target``'s database; stop at the first error."""
    argv = [pg_restore, "--no-password", "--no-owner", "--no-privileges", "--exit-on-error"]
    if clean:
        argv += ["--clean", "--if-exists"]
    argv += ["-d", target.url.database or "postgres", str(path)]
    _run(
        argv,
        env=target.env(),
        timeout=timeout,
        what=f"pg_restore into {target.name}",
        permanent=True,
    )


@contextmanager
def scratch_database(server: Target, label: str) -> Iterator[Target]:
    """A new, empty database on ``server`` for the block; dropped afterwards (even on error)."""
    name = f"hauler_scratch_{label}_{uuid.uuid4().hex[:8]}"
    admin = connect(server, isolation="AUTOCOMMIT")
    try:
        try:
            admin.execute(text(f"CREATE DATABASE {quote(name)}"))
        except SQLAlchemyError as exc:
            raise BackupFailed(
                f"cannot create a scratch database on {server.name} ({_first_line(exc)}); "
                "the user needs CREATEDB, or set HAULER_BACKUP_SCRATCH_URL"
            ) from None
        try:
            yield server.with_database(name)
        finally:
            admin.execute(text(f"DROP DATABASE IF EXISTS {quote(name)} WITH (FORCE)"))
    finally:
        _close(admin)


def counts_of(target: Target, schema: str | None) -> dict[str, int]:
    """Row counts of the tables in ``schema`` (or every schema) of ``target``'s database."""
    connection = connect(target)
    try:
        return row_counts(connection, schema)
    finally:
        _close(connection)


def vacuum(target: Target) -> dict[str, int]:
    """``VACUUM (ANALYZE)`` Hauler's tables (autocommit); return sizes before and after."""
    connection = connect(target, isolation="AUTOCOMMIT")
    try:
        names = [f"{quote(s)}.{quote(t)}" for s, t in tables(connection, target.schema)]
        before = _relation_bytes(connection, names)
        dead = _dead_rows(connection, target.schema)
        if names:
            connection.execute(text(f"VACUUM (ANALYZE) {', '.join(names)}"))
        after = _relation_bytes(connection, names)
        return {
            "tables": len(names),
            "bytes_before": before,
            "bytes_after": after,
            "dead_rows": dead,
        }
    finally:
        _close(connection)


def _relation_bytes(connection: Connection, names: list[str]) -> int:
    total = 0
    for name in names:
        total += int(
            connection.execute(text("SELECT pg_total_relation_size(:n)"), {"n": name}).scalar_one()
        )
    return total


def _dead_rows(connection: Connection, schema: str | None) -> int:
    query = "SELECT coalesce(sum(n_dead_tup), 0) FROM pg_stat_user_tables"
    if schema is not None:
        return int(
            connection.execute(text(query + " WHERE schemaname = :s"), {"s": schema}).scalar_one()
        )
    return int(connection.execute(text(query)).scalar_one())


def _run(
    argv: list[str],
    *,
    env: Mapping[str, str],
    timeout: int,
    what: str = "",
    permanent: bool = False,
) -> str:
    """Run a client program and return its stdout; a failure becomes BackupFailed or
    RetryableError with its stderr (secrets masked)."""
    return _wait(_spawn(argv, env), timeout=timeout, what=what or argv[0], permanent=permanent)


def _spawn(argv: list[str], env: Mapping[str, str]) -> subprocess.Popen[str]:
    try:
        return subprocess.Popen(
            argv, env=dict(env), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
    except FileNotFoundError:
        raise BackupFailed(
            f"{argv[0]} is not installed (Debian: postgresql-client-15), or set "
            "HAULER_BACKUP_PG_DUMP / HAULER_BACKUP_PG_RESTORE"
        ) from None


def _wait(process: subprocess.Popen[str], *, timeout: int, what: str, permanent: bool) -> str:
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        raise BackupFailed(f"{what} took longer than {timeout} s") from None
    except BaseException:  # interrupted (soft time limit): leave no client program behind
        process.kill()
        process.wait()
        raise
    if process.returncode != 0:
        message = redact_text(err.strip()[-2000:]) or f"exit status {process.returncode}"
        text_ = f"{what} failed: {message}"
        if not permanent and _transient(err):
            raise RetryableError(text_)
        raise BackupFailed(text_)
    return out


def _transient(stderr: str) -> bool:
    lowered = stderr.lower()
    return any(
        marker in lowered
        for marker in (
            "could not connect",
            "connection refused",
            "the database system is starting up",
            "the database system is shutting down",
            "too many clients",
            "server closed the connection",
        )
    )


def _close(connection: Connection) -> None:
    engine = connection.engine
    try:
        connection.close()
    finally:
        engine.dispose()


def _first_line(exc: BaseException) -> str:
    return redact_text(str(getattr(exc, "orig", exc)).strip().splitlines()[0])
