"""Settings of the autoscaler (``HAULER_AUTOSCALE_…``), per queue where it matters."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Self

from hauler.env import QUEUE_DEFAULTS, EnvReader


@dataclass(frozen=True)
class QueuePolicy:
    """How one queue is scaled."""

    queue: str
    min_workers: int = 1  # never fewer workers than this
    max_workers: int = 4  # never more workers than this
    target_latency: float = 10.0  # seconds the oldest message may wait (the default target)
    messages_per_worker: int = 0  # if > 0: target this backlog per worker instead of latency
    up_step: int = 8  # most workers added in one decision
    down_step: int = 1  # workers removed in one decision
    up_cooldown: float = 5.0  # seconds after any action before scaling up again
    down_cooldown: float = 5.0  # seconds after any action before scaling down
    down_threshold: float = 0.5  # the way down drains the latest backlog within this x the target
    utilization: float = 0.8  # busy fraction scale-up sizes for: λ / (μ x this) workers
    down_utilization: float = 0.6  # scale down only to a count the arrivals keep at most this busy
    assumed_throughput: float = 1.0  # tasks/s per worker before any is observed


@dataclass(frozen=True)
class DockerSettings:
    """How the docker backend creates worker containers."""

    image: str = "hauler:latest"  # image of workers made with no container to copy
    network_mode: str = "host"  # network of workers made with no container to copy
    project: str = ""  # compose project whose worker-<queue> services it scales; "" = its own
    base_url: str = ""  # Docker Engine URL; empty = DOCKER_HOST or the local socket
    stop_grace: int = 0  # seconds between SIGTERM and SIGKILL; 0 = the queue's hard limit


@dataclass(frozen=True)
class AutoscaleSettings:
    """The autoscaler process."""

    backend: str = "local"  # local | docker
    interval: float = 5.0  # seconds between samples
    window: int = 5  # samples averaged per decision
    history: int = 12  # samples the arrival rate λ and its trend are estimated over
    startup: float = 0.0  # seconds a new worker needs to consume; 0 = measured (prior: backend's)
    lease: float = 15.0  # seconds the leader lock lives without renewal
    metrics_port: int = 9809  # /metrics of the autoscaler
    decisions_kept: int = 1000  # decision rows kept in the database
    queues: tuple[str, ...] = tuple(QUEUE_DEFAULTS)  # queues it manages
    policies: Mapping[str, QueuePolicy] = field(default_factory=dict)
    docker: DockerSettings = field(default_factory=DockerSettings)

    def policy(self, queue: str) -> QueuePolicy:
        return self.policies.get(queue) or QueuePolicy(queue)

    @classmethod
    def from_env(cls, reader: EnvReader) -> Self:
        queues = tuple(
            q.strip()
            for q in reader.text("HAULER_AUTOSCALE_QUEUES", ",".join(QUEUE_DEFAULTS)).split(",")
            if q.strip()
        )
        for queue in queues:
            if queue not in QUEUE_DEFAULTS:
                reader.problems.append(f"HAULER_AUTOSCALE_QUEUES names unknown queue {queue!r}")
        return cls(
            backend=reader.choice("HAULER_AUTOSCALE_BACKEND", "local", ("LOCAL", "DOCKER")).lower(),
            interval=reader.number("HAULER_AUTOSCALE_INTERVAL", 5.0, minimum=0.2),
            window=reader.integer("HAULER_AUTOSCALE_WINDOW", 5, minimum=1),
            history=reader.integer("HAULER_AUTOSCALE_HISTORY", 12, minimum=2),
            startup=reader.number("HAULER_AUTOSCALE_STARTUP", 0.0, minimum=0.0),
            lease=reader.number("HAULER_AUTOSCALE_LEASE", 15.0, minimum=1.0),
            metrics_port=reader.integer("HAULER_AUTOSCALE_METRICS_PORT", 9809, minimum=0),
            decisions_kept=reader.integer("HAULER_AUTOSCALE_DECISIONS_KEPT", 1000, minimum=10),
            queues=queues,
            policies={q: _policy(reader, q) for q in QUEUE_DEFAULTS},
            docker=DockerSettings(
                image=reader.text("HAULER_AUTOSCALE_DOCKER_IMAGE", "hauler:latest"),
                network_mode=reader.text("HAULER_AUTOSCALE_DOCKER_NETWORK", "host"),
                project=reader.text("HAULER_AUTOSCALE_DOCKER_PROJECT", ""),
                base_url=reader.text("HAULER_AUTOSCALE_DOCKER_URL", ""),
                stop_grace=reader.integer("HAULER_AUTOSCALE_DOCKER_STOP_GRACE", 0, minimum=0),
            ),
        )


def _policy(reader: EnvReader, queue: str) -> QueuePolicy:
    p = f"HAULER_AUTOSCALE_{queue.upper()}_"
    policy = QueuePolicy(
        queue=queue,
        min_workers=reader.integer(p + "MIN", 1, minimum=0),
        max_workers=reader.integer(p + "MAX", 4, minimum=0),
        target_latency=reader.number(p + "TARGET_LATENCY", 10.0, minimum=0.1),
        messages_per_worker=reader.integer(p + "MESSAGES_PER_WORKER", 0, minimum=0),
        up_step=reader.integer(p + "UP_STEP", 8, minimum=1),
        down_step=reader.integer(p + "DOWN_STEP", 1, minimum=1),
        up_cooldown=reader.number(p + "UP_COOLDOWN", 5.0, minimum=0.0),
        down_cooldown=reader.number(p + "DOWN_COOLDOWN", 5.0, minimum=0.0),
        down_threshold=reader.number(p + "DOWN_THRESHOLD", 0.5, minimum=0.0),
        utilization=reader.number(p + "UTILIZATION", 0.8, minimum=0.05),
        down_utilization=reader.number(p + "DOWN_UTILIZATION", 0.6, minimum=0.01),
    )
    if policy.max_workers < policy.min_workers:
        reader.problems.append(f"{p}MAX={policy.max_workers} is below {p}MIN={policy.min_workers}")
    if policy.down_threshold >= 1:
        reader.problems.append(f"{p}DOWN_THRESHOLD must be below 1 (hysteresis)")
    if policy.utilization > 1:
        reader.problems.append(f"{p}UTILIZATION must be at most 1 (a worker is busy 100% at most)")
    if policy.down_utilization >= policy.utilization:
        reader.problems.append(
            f"{p}DOWN_UTILIZATION={policy.down_utilization:g} must be below "
            f"{p}UTILIZATION={policy.utilization:g} (hysteresis)"
        )
    return policy
