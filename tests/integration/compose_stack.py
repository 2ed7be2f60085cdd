"""The compose stack under test: Debian's docker-compose 1.29, the test override, free ports."""

from __future__ import annotations

import os
import secrets
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tests.integration.conftest import ROOT
from tests.integration.http_server import free_port
from tests.integration.services import missing

TEST_OVERRIDE = ROOT / "deploy/compose/test.yml"
PORTS = ("redis", "pg", "recorder", "flower", "autoscaler", "prometheus")
#: Which test port a scrape target "<service>:<port>" of deploy/prometheus.yml becomes.
SCRAPED = {name: name for name in ("recorder", "autoscaler", "flower", "prometheus")}


def build_hauler_image() -> str:
    """Hauler's image (deploy/docker/build-image.sh, cached); its name."""
    image = os.environ.get("HAULER_IMAGE", "hauler:latest")
    _run_or_missing("deploy/scripts/start-dockerd.sh", {})
    _run_or_missing("deploy/docker/build-image.sh", {"HAULER_IMAGE": image})
    return image


def build_images() -> dict[str, str]:
    """Build (or find cached) Hauler's image and the stand-ins; their names, for compose."""
    images = {
        "HAULER_IMAGE": os.environ.get("HAULER_IMAGE", "hauler:latest"),
        "HAULER_STAND_IN_IMAGE": os.environ.get(
            "HAULER_STAND_IN_IMAGE", "hauler-stand-ins:bookworm"
        ),
    }
    for script in ("deploy/scripts/install-compose-peers.sh", "deploy/docker/build-image.sh"):
        _run_or_missing(script, images)
    _run_or_missing("deploy/compose/build-stand-ins.sh", images)
    return images


def _run_or_missing(script: str, env: dict[str, str]) -> None:
    done = subprocess.run(
        [str(ROOT / script)],
        capture_output=True,
        text=True,
        check=False,
        timeout=1200,
        env={**os.environ, **env},
    )
    if done.returncode != 0:
        missing(f"{script} ({done.stderr.strip()[-400:]})")


def prometheus_config(source: Path, ports: dict[str, int]) -> dict[str, Any]:
    """deploy/prometheus.yml with each "<service>:<port>" target on its host-network port,
    scraped every second (the test waits for every target to be up)."""
    config = yaml.safe_load(source.read_text())
    config.setdefault("global", {}).update(scrape_interval="1s", evaluation_interval="1s")
    for job in config.get("scrape_configs", []):
        for static in job.get("static_configs", []):
            targets = []
            for target in static["targets"]:
                service = target.split(":")[0]
                if service not in SCRAPED:
                    raise AssertionError(
                        f"deploy/prometheus.yml scrapes {target}: give its service a port "
                        "in tests/integration/compose_stack.py and deploy/compose/test.yml"
                    )
                targets.append(f"127.0.0.1:{ports[SCRAPED[service]]}")
            static["targets"] = targets
    return config


@dataclass
class Stack:
    """One compose project (``hauler-compose-<random>``) with the test override."""

    folder: Path
    images: dict[str, str]
    project: str = field(default_factory=lambda: f"hauler-compose-{secrets.token_hex(4)}")
    ports: dict[str, int] = field(default_factory=lambda: {name: free_port() for name in PORTS})
    flower_auth: str = field(default_factory=lambda: f"ops:{secrets.token_urlsafe(12)}")

    def __post_init__(self) -> None:
        config = self.folder / "prometheus.yml"
        config.write_text(
            yaml.safe_dump(prometheus_config(ROOT / "deploy/prometheus.yml", self.ports))
        )
        config.chmod(0o644)
        self.env = {
            **os.environ,
            **self.images,
            **{f"HAULER_TEST_{name.upper()}_PORT": str(port) for name, port in self.ports.items()},
            "HAULER_TEST_PROMETHEUS_CONFIG": str(config),
            "HAULER_FLOWER_BASIC_AUTH": self.flower_auth,
            "FLOWER_BASIC_AUTH": self.flower_auth,
        }

    @property
    def broker_url(self) -> str:
        return f"redis://127.0.0.1:{self.ports['redis']}/0"

    @property
    def database_url(self) -> str:
        return f"postgresql://hauler:hauler@127.0.0.1:{self.ports['pg']}/hauler"

    def merged(self) -> Path:
        """docker-compose.yml and the test override as compose merges them (``config``), less
        the published ports: an override cannot remove a list entry, and docker-py refuses
        port bindings with host networking (they would be meaningless there anyway)."""
        path = self.folder / "merged-compose.yml"
        if not path.exists():
            files = ["-f", str(ROOT / "docker-compose.yml"), "-f", str(TEST_OVERRIDE)]
            config = yaml.safe_load(self._run(["-p", self.project, *files, "config"], 60).stdout)
            for service in config["services"].values():
                if service.get("network_mode") == "host":
                    service.pop("ports", None)
            path.write_text(yaml.safe_dump(config))
        return path

    def compose(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        """``docker-compose -p <project> -f <merged file> args…``."""
        return self._run(
            ["-p", self.project, "--project-directory", str(ROOT), "-f", str(self.merged()), *args],
            timeout,
        )

    def _run(self, args: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
        argv = ["docker-compose", *args]
        done = subprocess.run(
            argv, cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=timeout
        )
        if done.returncode != 0:
            raise AssertionError(f"{' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
        return done

    def ps(self, service: str) -> list[str]:
        """Container ids ``docker-compose ps -q <service>`` lists.

        compose lists the project's containers, then inspects each one; a container the
        autoscaler removes in between fails the whole call ("No such container"), so that
        race is asked again.
        """
        for _ in range(5):
            try:
                return self.compose("ps", "-q", service).stdout.split()
            except AssertionError as exc:
                if "No such container" not in str(exc):
                    raise
                time.sleep(0.2)
        return self.compose("ps", "-q", service).stdout.split()

    def logs(self, *services: str) -> str:
        try:
            return self.compose("logs", "--no-color", "--tail", "40", *services).stdout
        except AssertionError as exc:
            return str(exc)

    def leftovers(self, engine: Any) -> dict[str, list[str]]:
        """What of this project is still on the engine."""
        label = {"label": f"com.docker.compose.project={self.project}"}
        return {
            "containers": [c.name for c in engine.containers.list(all=True, filters=label)],
            "networks": [n.name for n in engine.networks.list(filters=label)],
            "volumes": [v.name for v in engine.volumes.list(filters=label)],
        }

    def remove_leftovers(self, engine: Any) -> None:
        """Last resort after a failed test: force-remove what is left of this project."""
        label = {"label": f"com.docker.compose.project={self.project}"}
        for container in engine.containers.list(all=True, filters=label):
            container.remove(force=True)
        for network in engine.networks.list(filters=label):
            network.remove()
        for volume in engine.volumes.list(filters=label):
            volume.remove(force=True)
