#!/usr/bin/env bash
# Make sure the servers Hauler needs run on this machine: install (Debian, as root) and
# start Redis and/or PostgreSQL when they are missing. Idempotent.
# Usage: ensure-services.sh [redis] [postgresql]
set -euo pipefail

APT_UPDATED=0
apt_install() {
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
        echo "hauler: please install $* (not root or no apt-get here)" >&2
        exit 1
    fi
    if [ "$APT_UPDATED" = 0 ]; then
        apt-get update -qq
        APT_UPDATED=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

ensure_redis() {
    if redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
        return
    fi
    command -v redis-server >/dev/null || apt_install redis-server redis-tools
    mkdir -p /var/lib/redis /var/log/redis
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" \
        --appendonly no --dir /var/lib/redis --logfile /var/log/redis/hauler.log
    for _ in $(seq 50); do
        redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && return
        sleep 0.2
    done
    echo "hauler: redis-server did not start; see /var/log/redis/hauler.log" >&2
    exit 1
}

ensure_postgresql() {
    if ! command -v pg_ctlcluster >/dev/null; then
        apt_install postgresql postgresql-client
    fi
    if ! pg_isready -h 127.0.0.1 -p 5432 -q; then
        version=$(ls /etc/postgresql | sort -n | tail -1)
        hba=/etc/postgresql/$version/main/pg_hba.conf
        if ! grep -q "hauler: trust loopback" "$hba"; then
            # Tests connect as postgres over loopback without a password.
            sed -i '1i # hauler: trust loopback\nhost all all 127.0.0.1/32 trust\nhost all all ::1/128 trust\nlocal all all trust' "$hba"
        fi
        pg_ctlcluster --skip-systemctl-redirect "$version" main start
        for _ in $(seq 50); do
            pg_isready -h 127.0.0.1 -p 5432 -q && break
            sleep 0.2
        done
    fi
    if ! psql -h 127.0.0.1 -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname='test'" postgres | grep -q 1; then
        psql -h 127.0.0.1 -U postgres -c "CREATE DATABASE test" postgres >/dev/null
    fi
}

for service in "$@"; do
    case "$service" in
        redis) ensure_redis ;;
        postgresql) ensure_postgresql ;;
        *) echo "hauler: unknown service $service" >&2; exit 2 ;;
    esac
done
