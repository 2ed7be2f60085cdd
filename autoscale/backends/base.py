"""The worker backend Protocol every backend implements (one contract suite tests them)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class WorkerHandle:
    """One worker the autoscaler manages."""

    id: str  # pid or container id
    queue: str
    node: str  # Celery node name, e.g. "media-as1f2e3d@host"
    started_at: float  # UNIX seconds
    stopping: bool = False  # asked to stop (warm shutdown), not yet gone


class WorkerBackend(Protocol):
    """Starts, lists and stops Celery workers for a queue."""

    name: str

    def workers(self, queue: str) -> list[WorkerHandle]:
        """Workers of ``queue`` that exist now (including ones still stopping)."""
        ...

    def start(self, queue: str, count: int) -> list[WorkerHandle]:
        """Start ``count`` workers for ``queue``; return their handles at once."""
        ...

    def stop(self, handle: WorkerHandle) -> None:
        """Ask a worker to stop after its current task (warm shutdown); do not wait."""
        ...

    def close(self, *, stop_workers: bool = False, timeout: float = 60.0) -> None:
        """Release resources; with ``stop_workers``, stop all and wait up to ``timeout``."""
        ...


def node_prefix(queue: str) -> str:
    """Every autoscaled worker of ``queue`` has a node name starting with this."""
    return f"{queue}-as"
