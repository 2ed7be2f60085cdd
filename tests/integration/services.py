"""Reaching the real servers the integration tests need; loud in CI, a skip locally."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

REDIS_HOST = os.environ.get("HAULER_TEST_REDIS_HOST", "127.0.0.1")
REDIS_PORT = int(os.environ.get("HAULER_TEST_REDIS_PORT", "6379"))
T = TypeVar("T")
PG_URL = os.environ.get("HAULER_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


def missing(what: str) -> None:
    """Fail in CI (CI=true), skip elsewhere, with one line naming what is missing."""
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"{what} is required in CI", pytrace=False)
    pytest.skip(f"{what} is not available here")


def require_binary(name: str) -> str:
    """The path of program ``name``, or fail/skip."""
    path = shutil.which(name)
    if path is None:
        missing(f"program {name!r}")
    assert path is not None
    return path


def wait_for(predicate: Callable[[], T], timeout: float = 30.0, interval: float = 0.1) -> T:
    """Poll ``predicate()`` until it returns something truthy; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s (last value {value!r})")
        time.sleep(interval)


@contextlib.contextmanager
def tmpfs(mount_point: Path, size: str) -> Iterator[Path]:
    """A small tmpfs mounted at ``mount_point`` (made if needed) for disk-full tests (root)."""
    mount_point.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount_point)],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        missing(f"a tmpfs mount for a disk-full test ({done.stderr.decode().strip()})")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)
