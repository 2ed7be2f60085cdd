"""Worker containers as compose makes them: its labels, numbers, names, copied from a template.

Compose (docker-compose 1.29 and compose v2) finds a service's containers by their labels
alone — ``com.docker.compose.project``, ``.service``, ``.oneoff=False`` — numbers them
(``.container-number``) and keeps one whose ``.config-hash`` matches the file. A container
created here from a *template* (another container of the same service, or the
autoscaler's own) carries all of the template's labels with a fresh number, so
``docker compose ps`` lists it, ``docker compose down`` removes it, ``--scale`` counts it,
and compose does not recreate it on the next ``up``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

PROJECT = "com.docker.compose.project"
SERVICE = "com.docker.compose.service"
NUMBER = "com.docker.compose.container-number"
ONEOFF = "com.docker.compose.oneoff"
CONFIG_HASH = "com.docker.compose.config-hash"
VERSION = "com.docker.compose.version"
QUEUE = "hauler.queue"
NODE = "hauler.node"
MANAGED = "hauler.managed-by"

DOCKER_SOCKET = "/var/run/docker.sock"  # the autoscaler's own mount; never a worker's
_CONTAINER_ID = re.compile(r"/containers/([0-9a-f]{64})/")


def service_for(queue: str) -> str:
    """The compose service of ``queue``'s workers."""
    return f"worker-{queue}"


def selector(project: str, queue: str) -> dict[str, list[str]]:
    """Engine API filters for the workers of ``queue`` in ``project`` (one-offs excluded)."""
    return {"label": [f"{PROJECT}={project}", f"{SERVICE}={service_for(queue)}", f"{ONEOFF}=False"]}


def next_number(labels: Iterable[Mapping[str, str]]) -> int:
    """One above the highest container number in use (compose's own rule)."""
    numbers = [int(n) for n in (lab.get(NUMBER, "") for lab in labels) if n.isdigit()]
    return max(numbers, default=0) + 1


def container_name(project: str, service: str, number: int, compose_version: str) -> str:
    """``project_service_N`` as docker-compose 1.x names it, ``project-service-N`` as v2 does."""
    separator = "_" if compose_version.startswith("1.") else "-"
    return separator.join([project, service, str(number)])


def own_container_id(mountinfo: str) -> str | None:
    """This process's container id, from /proc/self/mountinfo: the engine bind-mounts
    ``/var/lib/docker/containers/<id>/hostname`` on ``/etc/hostname`` (with host networking
    too, where the hostname itself is the host's). None outside a container."""
    for line in mountinfo.splitlines():
        fields = line.split()
        if len(fields) > 4 and fields[4] == "/etc/hostname":
            match = _CONTAINER_ID.search(fields[3] + "/")
            if match:
                return match.group(1)
    return None


def worker_command(command: list[str], queue: str, node: str) -> list[str]:
    """``command`` with ``-n node``: the template's if it is a worker of ``queue``, else a
    plain ``hauler worker <queue>`` (``health`` also serves Celery's default queue)."""
    if command[:2] != ["hauler", "worker"]:
        command = ["hauler", "worker", queue, *(["celery"] if queue == "health" else [])]
    out, skip = [], False
    for arg in command:
        if skip:
            skip = False
        elif arg in ("-n", "--hostname"):
            skip = True
        elif not arg.startswith(("-n", "--hostname=")):
            out.append(arg)
    return [*out, "-n", node]


@dataclass(frozen=True)
class Spec:
    """What a new worker container is created with."""

    image: str
    command: list[str]
    environment: list[str]
    labels: dict[str, str]
    name: str
    network_mode: str
    networks: dict[str, list[str]] = field(default_factory=dict)  # network → aliases
    mounts: list[dict[str, Any]] = field(default_factory=list)  # docker.types.Mount kwargs
    restart_policy: dict[str, Any] = field(default_factory=dict)
    user: str = ""
    working_dir: str = ""
    stop_signal: str = "SIGTERM"


def from_template(
    attrs: Mapping[str, Any], queue: str, node: str, number: int, project: str
) -> Spec:
    """A worker of ``queue`` made like the container ``attrs`` (``docker inspect`` output).

    The template is a container of the same service (compose's or one made here) or, when
    the service has none, the autoscaler's own container: then the command is a plain
    worker's, its docker socket is left out, and its config hash is dropped (compose
    recreates such a container on its next ``up``, rather than mistake it for its own).
    """
    config = attrs.get("Config") or {}
    host = attrs.get("HostConfig") or {}
    template_labels = dict(config.get("Labels") or {})
    service = service_for(queue)
    same_service = template_labels.get(SERVICE) == service
    labels = {
        **template_labels,
        PROJECT: project,
        SERVICE: service,
        NUMBER: str(number),
        ONEOFF: "False",
        QUEUE: queue,
        NODE: node,
        MANAGED: "autoscaler",
    }
    if not same_service:
        labels.pop(CONFIG_HASH, None)
    network_mode = str(host.get("NetworkMode") or "default")
    networks = {}
    if network_mode not in ("host", "none", "default", "bridge") and not network_mode.startswith(
        "container:"
    ):
        attached = (attrs.get("NetworkSettings") or {}).get("Networks") or {}
        networks = {name: [service] for name in attached} or {network_mode: [service]}
    mounts = [
        _mount(m)
        for m in attrs.get("Mounts") or []
        if m.get("Destination") != DOCKER_SOCKET and m.get("Type") in ("volume", "bind")
    ]
    return Spec(
        image=str(config.get("Image") or ""),
        command=worker_command(list(config.get("Cmd") or []) if same_service else [], queue, node),
        environment=list(config.get("Env") or []),
        labels=labels,
        name=container_name(project, service, number, labels.get(VERSION, "")),
        network_mode=network_mode,
        networks=networks,
        mounts=mounts,
        restart_policy=dict(host.get("RestartPolicy") or {}),
        user=str(config.get("User") or ""),
        working_dir=str(config.get("WorkingDir") or ""),
        stop_signal=str(config.get("StopSignal") or "SIGTERM"),
    )


def _mount(mount: Mapping[str, Any]) -> dict[str, Any]:
    kind = mount["Type"]
    source = mount.get("Name") if kind == "volume" else mount.get("Source")
    return {
        "target": mount["Destination"],
        "source": source,
        "type": kind,
        "read_only": not mount.get("RW", True),
    }
