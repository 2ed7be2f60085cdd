"""Signal sources: what the policy sees of a queue, read from Redis in one round trip each."""

from __future__ import annotations

import json
import time
from collections import Counter
from typing import Protocol

import redis

from autoscale.policy import Sample
from hauler import broker

#: kombu's Redis transport keeps unacknowledged deliveries in this hash:
#: delivery tag → JSON [message, exchange, routing key].
UNACKED_KEY = "unacked"
#: Workers count finished tasks per queue here (see workers/signals.py).
COMPLETED_KEY = "hauler:queue:{queue}:completed"
#: …and the seconds they spent running them (busy time: μ = completed / busy).
BUSY_KEY = "hauler:queue:{queue}:busy_seconds"
#: Hauler's app counts what it publishes per queue here (see workers/sent_events.py): λ.
PUBLISHED_KEY = "hauler:queue:{queue}:published"
#: A worker writes when it is ready to consume (UNIX seconds): its start-up time is measured.
READY_KEY = "hauler:worker:{node}:ready"


class SignalSource(Protocol):
    """Produces one sample per queue per call."""

    def sample(self, queues: list[str]) -> dict[str, Sample]: ...


class RedisSignals:
    """Depth and latency from the queue lists, in-flight from the unacked hash, the
    completion and busy-time counters the workers keep and the publish counter."""

    def __init__(self, client: redis.Redis) -> None:
        self.client = client

    def sample(self, queues: list[str]) -> dict[str, Sample]:
        now = time.time()
        in_flight = self._in_flight()
        with self.client.pipeline(transaction=False) as pipe:
            for queue in queues:
                pipe.get(COMPLETED_KEY.format(queue=queue))
                pipe.get(BUSY_KEY.format(queue=queue))
                pipe.get(PUBLISHED_KEY.format(queue=queue))
            counters = pipe.execute()
        samples = {}
        for i, queue in enumerate(queues):
            done, busy, published = counters[3 * i : 3 * i + 3]
            reading = broker.sample(self.client, queue, now)
            samples[queue] = Sample(
                at=now,
                depth=reading.depth,
                latency=reading.latency,
                in_flight=in_flight.get(queue, 0),
                completed=int(done or 0),
                published=int(published or 0),
                busy=float(busy or 0.0),
            )
        return samples

    def _in_flight(self) -> Counter[str]:
        counts: Counter[str] = Counter()
        for raw in self.client.hvals(UNACKED_KEY):
            try:
                routing_key = json.loads(raw)[2]
            except (ValueError, IndexError, TypeError):
                continue
            counts[str(routing_key)] += 1
        return counts
