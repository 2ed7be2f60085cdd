"""The docker backend: worker containers through the Docker Engine API.

Containers are created from the configured image with Hauler's environment, labelled
``hauler.queue=<queue>`` plus compose project/service labels (so ``docker compose ps``
lists them with the stack). It lists and stops only containers of its own project
(``HAULER_AUTOSCALE_DOCKER_PROJECT``), never another stack's on the same engine. They are
stopped with SIGTERM and a grace period of at least the
queue's hard time limit (a warm shutdown), then removed.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
import uuid
from datetime import datetime
from typing import Any

import docker
from docker.errors import DockerException, NotFound

from autoscale.backends.base import WorkerHandle, node_prefix
from hauler.queues import DEFAULT_QUEUE
from hauler.settings import Settings

MANAGED_LABEL = "hauler.managed-by"
PROJECT_LABEL = "com.docker.compose.project"


class DockerBackend:
    """Starts and stops worker containers."""

    name = "docker"

    def __init__(self, settings: Settings, client: Any = None) -> None:
        self.settings = settings
        self.config = settings.autoscale.docker
        self.client = client or (
            docker.DockerClient(base_url=self.config.base_url)
            if self.config.base_url
            else docker.from_env()
        )
        self._stopping: dict[str, threading.Thread] = {}

    def workers(self, queue: str) -> list[WorkerHandle]:
        filters = {
            "label": [
                f"hauler.queue={queue}",
                f"{MANAGED_LABEL}=autoscaler",
                f"{PROJECT_LABEL}={self.config.project}",  # this stack's containers only
            ]
        }
        handles = []
        for container in self.client.containers.list(filters=filters):
            labels = container.labels
            handles.append(
                WorkerHandle(
                    id=container.id,
                    queue=queue,
                    node=labels.get("hauler.node", ""),
                    started_at=_created(container.attrs.get("Created", "")),
                    stopping=self._is_stopping(container.id),
                )
            )
        return sorted(handles, key=lambda h: h.started_at)

    def start(self, queue: str, count: int) -> list[WorkerHandle]:
        queues = [queue, DEFAULT_QUEUE] if queue == "health" else [queue]
        concurrency = self.settings.queues[queue].concurrency
        handles = []
        for _ in range(count):
            suffix = uuid.uuid4().hex[:8]
            node = f"{node_prefix(queue)}{suffix}@%h"
            container = self.client.containers.run(
                self.config.image,
                command=["hauler", "worker", *queues, "-n", node, "-c", str(concurrency)],
                environment=_hauler_environment(),
                labels={
                    "hauler.queue": queue,
                    "hauler.node": node,
                    MANAGED_LABEL: "autoscaler",
                    PROJECT_LABEL: self.config.project,
                    "com.docker.compose.service": f"worker-{queue}",
                    "com.docker.compose.oneoff": "False",
                },
                name=f"{self.config.project}-worker-{queue}-{suffix}",
                network_mode=self.config.network_mode,
                stop_signal="SIGTERM",
                detach=True,
            )
            handles.append(WorkerHandle(container.id, queue, node, time.time()))
        return handles

    def stop(self, handle: WorkerHandle) -> None:
        if self._is_stopping(handle.id):
            return
        grace = self.config.stop_grace or self.settings.queues[handle.queue].time_limit
        thread = threading.Thread(
            target=self._stop_and_remove, args=(handle.id, grace), daemon=True
        )
        self._stopping[handle.id] = thread
        thread.start()

    def _stop_and_remove(self, container_id: str, grace: int) -> None:
        with contextlib.suppress(NotFound, DockerException):
            container = self.client.containers.get(container_id)
            container.stop(timeout=grace)  # SIGTERM, SIGKILL after the grace period
            container.remove(force=True)

    def _is_stopping(self, container_id: str) -> bool:
        thread = self._stopping.get(container_id)
        if thread is not None and not thread.is_alive():
            del self._stopping[container_id]
            return False
        return thread is not None

    def close(self, *, stop_workers: bool = False, timeout: float = 60.0) -> None:
        if stop_workers:
            for queue in self.settings.queues:
                for handle in self.workers(queue):
                    self.stop(handle)
        deadline = time.monotonic() + timeout
        for thread in list(self._stopping.values()):
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
        self.client.close()


def _hauler_environment() -> dict[str, str]:
    """Every HAULER_* variable of this process, passed on to the workers."""
    return {key: value for key, value in os.environ.items() if key.startswith("HAULER_")}


def _created(stamp: str) -> float:
    try:
        return datetime.fromisoformat(stamp[:26].rstrip("Z")).timestamp()
    except ValueError:
        return time.time()
