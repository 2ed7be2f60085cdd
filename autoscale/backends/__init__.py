"""Where workers run: local processes or Docker containers, behind one Protocol."""

from __future__ import annotations

from autoscale.backends.base import WorkerBackend, WorkerHandle

__all__ = ["WorkerBackend", "WorkerHandle", "create"]


def create(kind: str, settings: object) -> WorkerBackend:
    """The backend named ``kind`` ("local" or "docker")."""
    if kind == "local":
        from autoscale.backends.local import LocalBackend

        return LocalBackend(settings)  # type: ignore[arg-type]
    if kind == "docker":
        from autoscale.backends.docker import DockerBackend

        return DockerBackend(settings)  # type: ignore[arg-type]
    raise ValueError(f"unknown autoscaler backend {kind!r} (local or docker)")
