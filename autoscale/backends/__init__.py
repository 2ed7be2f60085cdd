"""Where workers run: local processes or Docker containers, behind one Protocol."""

from __future__ import annotations

from autoscale.backends.base import WorkerBackend, WorkerHandle
from hauler.settings import Settings

__all__ = ["WorkerBackend", "WorkerHandle", "create"]


def create(kind: str, settings: Settings) -> WorkerBackend:
    """The backend named ``kind`` ("local" or "docker")."""
    if kind == "local":
        from autoscale.backends.local import LocalBackend

        return LocalBackend(settings)
    if kind == "docker":
        from autoscale.backends.docker import DockerBackend

        return DockerBackend(settings)
    raise ValueError(f"unknown autoscaler backend {kind!r} (local or docker)")
