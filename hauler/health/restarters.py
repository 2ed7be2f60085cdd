"""How a failed component is restarted: by ``hauler up``'s supervisor, or through Docker.

Each way is a :class:`Restarter`. An action is ``<kind>:<name>``:

* ``supervisor:<child>`` — a process under ``hauler up`` (recorder, beat, autoscaler,
  flower), restarted by its supervisor on a request in Redis (hauler/supervisor_control.py);
* ``compose:<service>`` — every container of that compose service of this project;
* ``container:<name>`` — one container (e.g. a download client's), only if it carries
  this project's compose label.

Docker's own restart policy acts on exits only; a container that runs but does not
answer is left as it is, which is what these are for.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from hauler.deployment import deployment_id
from hauler.errors import ForeignComponent, PermanentError, RestartFailed
from hauler.settings import Settings
from hauler.supervisor_control import children, request_restart

PROJECT_LABEL = "com.docker.compose.project"
SERVICE_LABEL = "com.docker.compose.service"


class Restarter(Protocol):
    """One way of restarting a component."""

    def started_at(self) -> float | None:
        """UNIX time the component (last) started, or None if unknown or not running."""
        ...

    def restart(self) -> str:
        """Restart it now; return what was done, for the timeline.

        Raises:
            RestartFailed: the restart could not be done now.
            ForeignComponent: the target belongs to another deployment.
        """
        ...


class SupervisorRestarter:
    """A child of this deployment's ``hauler up``."""

    def __init__(self, settings: Settings, child: str, client: Any) -> None:
        self.child = child
        self.client = client
        self.deployment = deployment_id(settings)

    def _described(self) -> dict[str, Any] | None:
        known = children(self.client, self.deployment)
        return None if known is None else known.get(self.child)

    def started_at(self) -> float | None:
        found = self._described()
        return float(found["started_at"]) if found and found.get("started_at") else None

    def restart(self) -> str:
        if self._described() is None:
            raise RestartFailed(f"no supervisor of this deployment runs {self.child!r}")
        ident = request_restart(self.client, self.deployment, self.child)
        return f"asked hauler up's supervisor to restart {self.child} (request {ident})"


class DockerRestarter:
    """Containers of this compose project: a service's, or one named container."""

    def __init__(self, settings: Settings, kind: str, name: str, client: Any = None) -> None:
        self.kind = kind
        self.name = name
        self.project = settings.autoscale.docker.project
        self.timeout = settings.health.heal_stop_timeout
        self._client = client
        self._base_url = settings.autoscale.docker.base_url

    @property
    def client(self) -> Any:
        if self._client is None:
            import docker

            self._client = (
                docker.DockerClient(base_url=self._base_url)
                if self._base_url
                else docker.from_env()
            )
        return self._client

    def containers(self) -> list[Any]:
        from docker.errors import DockerException, NotFound

        try:
            if self.kind == "compose":
                labels = [f"{PROJECT_LABEL}={self.project}", f"{SERVICE_LABEL}={self.name}"]
                return list(self.client.containers.list(all=True, filters={"label": labels}))
            container = self.client.containers.get(self.name)
        except NotFound:
            return []
        except DockerException as exc:
            raise RestartFailed(f"Docker: {exc}") from None
        if container.labels.get(PROJECT_LABEL) != self.project:
            raise ForeignComponent(
                f"container {self.name!r} is not of compose project {self.project!r}; "
                "Hauler restarts only its own"
            )
        return [container]

    def started_at(self) -> float | None:
        stamps = [
            _docker_time(c.attrs.get("State", {}).get("StartedAt", "")) for c in self.containers()
        ]
        known = [s for s in stamps if s is not None]
        return max(known) if known else None

    def restart(self) -> str:
        from docker.errors import DockerException

        found = self.containers()
        if not found:
            raise RestartFailed(f"no container for {self.kind}:{self.name} in {self.project!r}")
        try:
            for container in found:
                container.restart(timeout=self.timeout)
        except DockerException as exc:
            raise RestartFailed(f"Docker: {exc}") from None
        return f"restarted container(s) {', '.join(c.name for c in found)}"


def _docker_time(stamp: str) -> float | None:
    """Docker's ``2026-12-01T12:00:00.123456789Z`` as UNIX time (None when never started)."""
    if not stamp or stamp.startswith("0001-"):
        return None
    head, _, rest = stamp.partition(".")
    fraction = rest.rstrip("Z")[:6] if rest else "0"
    try:
        return datetime.fromisoformat(f"{head.rstrip('Z')}.{fraction or '0'}+00:00").timestamp()
    except ValueError:
        return None


def restarter_for(settings: Settings, action: str, client: Any) -> Restarter:
    """The restarter of an action ``<kind>:<name>`` (see the module docstring)."""
    kind, _, name = action.partition(":")
    if kind == "supervisor":
        return SupervisorRestarter(settings, name, client)
    if kind in ("compose", "container"):
        return DockerRestarter(settings, kind, name)
    raise PermanentError(f"unknown heal action {action!r}")


def action_for(settings: Settings, target: str, client: Any) -> str | None:
    """The action that restarts ``target``: configured (HAULER_HEALTH_HEAL), else a child of
    this deployment's ``hauler up`` named like the component, else None (no known action)."""
    configured = settings.health.heal.get(target)
    if configured:
        return configured
    known = children(client, deployment_id(settings)) or {}
    return f"supervisor:{target}" if target in known else None
