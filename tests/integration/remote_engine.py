"""The docker backend on one host driving the engine of another (``tcp://`` engine URL).

Run by the many-hosts test inside a worker namespace: ``python remote_engine.py start``
starts one ``health`` worker container and prints its handle; ``… stop`` lists the
project's workers, warm-stops them, and prints what was listed and what is left.
"""

from __future__ import annotations

import json
import os
import sys

from autoscale.backends.docker import DockerBackend
from hauler.settings import Settings

QUEUE = "health"


def main(action: str) -> dict[str, object]:
    settings = Settings.from_env(os.environ)
    backend = DockerBackend(settings)
    if action == "start":
        (handle,) = backend.start(QUEUE, 1)
        backend.close()
        return {"id": handle.id, "node": handle.node, "project": backend.project}
    listed = [h.id for h in backend.workers(QUEUE)]
    backend.close(stop_workers=True, timeout=60)
    after = DockerBackend(settings)
    left = [h.id for h in after.workers(QUEUE)]
    after.close()
    return {"listed": listed, "left": left}


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1])))
