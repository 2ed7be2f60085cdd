"""The docker backend: the compose stack's ``worker-<queue>`` containers, through the Engine API.

It manages exactly the containers compose would call a service's: those labelled with its
project, ``com.docker.compose.service=worker-<queue>`` and ``oneoff=False`` — whether
compose made them (``docker compose up --scale worker-media=3``) or it did. New ones are
copies of a container of the same service (else of the autoscaler's own container, else
made from the settings) with compose's labels and the next container number
(``autoscale/backends/compose.py``), so compose lists, counts and removes them. The project
is ``HAULER_AUTOSCALE_DOCKER_PROJECT``, else the one of the container the autoscaler runs
in; it never lists or stops another project's containers on the same engine. Workers
are stopped with SIGTERM and a grace period of at least the queue's hard time limit (a
warm shutdown), then removed.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import docker
from docker.errors import APIError, DockerException, NotFound
from docker.types import Mount

import autoscale.backends.compose as compose
from autoscale.backends.base import WorkerHandle, node_prefix
from hauler.settings import Settings

log = logging.getLogger(__name__)

MANAGED_LABEL = compose.MANAGED
PROJECT_LABEL = compose.PROJECT
DEFAULT_PROJECT = "hauler"  # outside any container and with no setting
_NAME_TAKEN_RETRIES = 5  # compose may take the same container number at the same moment


class DockerBackend:
    """Starts and stops the worker containers of one compose project."""

    name = "docker"

    def __init__(self, settings: Settings, client: Any = None) -> None:
        self.settings = settings
        self.config = settings.autoscale.docker
        self.client = client or (
            docker.DockerClient(base_url=self.config.base_url)
            if self.config.base_url
            else docker.from_env()
        )
        self.own = self._own_container()
        own_project = (self.own or {}).get("Config", {}).get("Labels", {}).get(PROJECT_LABEL)
        self.project = self.config.project or own_project or DEFAULT_PROJECT
        self._stopping: dict[str, threading.Thread] = {}

    def workers(self, queue: str) -> list[WorkerHandle]:
        # The list call alone (no inspect per container): a container removed meanwhile
        # (a warm stop just ending) must not fail the autoscaler's tick.
        handles = []
        for summary in self.client.api.containers(filters=compose.selector(self.project, queue)):
            labels = summary.get("Labels") or {}
            handles.append(
                WorkerHandle(
                    id=summary["Id"],
                    queue=queue,
                    node=labels.get(compose.NODE, ""),  # "" for one compose started
                    started_at=float(summary.get("Created") or time.time()),
                    stopping=self._is_stopping(summary["Id"]),
                )
            )
        return sorted(handles, key=lambda h: h.started_at)

    def start(self, queue: str, count: int) -> list[WorkerHandle]:
        return [self._start_one(queue) for _ in range(count)]

    def _start_one(self, queue: str) -> WorkerHandle:
        node = f"{node_prefix(queue)}{uuid.uuid4().hex[:8]}@%h"
        siblings = self.client.api.containers(
            all=True, filters=compose.selector(self.project, queue)
        )
        template = self._template(siblings)
        number = compose.next_number(c.get("Labels") or {} for c in siblings)
        for _ in range(_NAME_TAKEN_RETRIES):
            spec = compose.from_template(template, queue, node, number, self.project)
            try:
                container_id = self._create(spec)
                break
            except APIError as exc:
                if exc.status_code != 409:  # 409: the name is taken
                    raise
                number += 1
        else:
            raise RuntimeError(f"no free container number for {compose.service_for(queue)}")
        self.client.api.start(container_id)
        log.info("started %s (%s) for %s", spec.name, node, queue)
        return WorkerHandle(container_id, queue, node, time.time())

    def _template(self, siblings: list[dict[str, Any]]) -> dict[str, Any]:
        """The newest container of the service, else the autoscaler's own, else the settings."""
        for summary in sorted(siblings, key=lambda c: c.get("Created") or 0, reverse=True):
            with contextlib.suppress(NotFound):  # removed since it was listed: the next
                return dict(self.client.api.inspect_container(summary["Id"]))
        own_labels = (self.own or {}).get("Config", {}).get("Labels") or {}
        if self.own is not None and own_labels.get(PROJECT_LABEL) == self.project:
            return self.own  # the autoscaler of this very stack: its image, env, volumes
        return {
            "Config": {
                "Image": self.config.image,
                "Env": [f"{k}={v}" for k, v in _hauler_environment().items()],
                "Labels": {PROJECT_LABEL: self.project},
            },
            "HostConfig": {"NetworkMode": self.config.network_mode},
        }

    def _create(self, spec: compose.Spec) -> str:
        api = self.client.api
        networks = list(spec.networks.items())
        networking = None
        if networks:
            first, aliases = networks[0]
            networking = api.create_networking_config(
                {first: api.create_endpoint_config(aliases=aliases)}
            )
        host_config = api.create_host_config(
            network_mode=networks[0][0] if networks else spec.network_mode,
            mounts=[Mount(**m) for m in spec.mounts],
            restart_policy=spec.restart_policy or None,
        )
        created = api.create_container(
            spec.image,
            command=spec.command,
            environment=spec.environment,
            labels=spec.labels,
            name=spec.name,
            host_config=host_config,
            networking_config=networking,
            stop_signal=spec.stop_signal,
            user=spec.user or None,
            working_dir=spec.working_dir or None,
        )
        for network, aliases in networks[1:]:
            api.connect_container_to_network(created["Id"], network, aliases=aliases)
        return str(created["Id"])

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

    def _own_container(self) -> dict[str, Any] | None:
        """``docker inspect`` of the container this process runs in, if any (same engine)."""
        try:
            found = compose.own_container_id(Path("/proc/self/mountinfo").read_text())
        except OSError:
            return None
        if found is None:
            return None
        try:
            return dict(self.client.api.inspect_container(found))
        except (NotFound, DockerException):
            return None  # another engine (a remote URL): not our container

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
