#!/bin/sh
# What the official postgres image does at start, for Debian's postgresql-15: an empty data
# directory gets a cluster with $POSTGRES_USER (password $POSTGRES_PASSWORD) owning
# $POSTGRES_DB; then the server runs in the foreground. Extra arguments go to postgres.
set -eu
data=${PGDATA:-/var/lib/postgresql/data}
bin=/usr/lib/postgresql/15/bin
mkdir -p "$data" /run/postgresql
chown postgres:postgres "$data" /run/postgresql
chmod 0700 "$data"
if [ ! -s "$data/PG_VERSION" ]; then
    pwfile=$(mktemp)
    printf '%s\n' "$POSTGRES_PASSWORD" >"$pwfile"
    chown postgres "$pwfile"
    su postgres -s /bin/sh -c "$bin/initdb -D '$data' -U '$POSTGRES_USER' --pwfile='$pwfile' \
        --auth-local=trust --auth-host=scram-sha-256 -E UTF8 >/dev/null"
    rm -f "$pwfile"
    su postgres -s /bin/sh -c "$bin/postgres -D '$data' -c listen_addresses='' -k /run/postgresql" &
    until su postgres -s /bin/sh -c "$bin/pg_isready -q -h /run/postgresql -U '$POSTGRES_USER' -d postgres"; do
        sleep 0.2
    done
    su postgres -s /bin/sh -c "psql -q -h /run/postgresql -U '$POSTGRES_USER' -d postgres \
        -c 'CREATE DATABASE \"$POSTGRES_DB\"'"
    su postgres -s /bin/sh -c "$bin/pg_ctl -D '$data' -m fast -w stop >/dev/null"
fi
exec su postgres -s /bin/sh -c "exec $bin/postgres -D '$data' -k /run/postgresql $*"
