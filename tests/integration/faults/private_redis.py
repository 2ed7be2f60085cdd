"""A redis-server of a test's own, on a free loopback port, that the test may stop and kill."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import time
from pathlib import Path

import redis

from tests.integration.services import require_binary


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class PrivateRedis:
    """redis-server with an fsync-always AOF in ``directory``; restarts keep its data."""

    def __init__(self, directory: Path) -> None:
        self.binary = require_binary("redis-server")
        self.directory = directory
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        directory.mkdir(parents=True, exist_ok=True)

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self) -> PrivateRedis:
        argv = [
            self.binary,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(self.directory),
            "--appendonly",
            "yes",
            "--appendfsync",
            "always",
            "--save",
            "",
        ]
        with (self.directory / "redis.log").open("ab") as log:
            self.process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
        client = redis.Redis.from_url(self.url(), socket_connect_timeout=1)
        deadline = time.monotonic() + 20
        while True:
            try:
                client.ping()
                return self
            except redis.RedisError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise AssertionError(f"redis-server on {self.port} did not start") from None
                time.sleep(0.05)

    def shutdown(self) -> None:
        """A clean stop: ``SHUTDOWN`` (the AOF is flushed), as ``redis-cli shutdown`` does."""
        with contextlib.suppress(redis.RedisError):
            redis.Redis.from_url(self.url()).shutdown(nosave=True)
        self._wait_exit()

    def kill(self) -> None:
        """``kill -9`` of redis-server."""
        assert self.process is not None
        self.process.kill()
        self._wait_exit()

    def _wait_exit(self) -> None:
        assert self.process is not None
        self.process.wait(timeout=20)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=20)
