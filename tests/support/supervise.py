"""``hauler up``'s supervisor with its Redis control, over the children a test names.

Run as ``python -m tests.support.supervise SPEC`` where SPEC is JSON:
``{"log_dir": "...", "restart_grace": 5, "children": {"recorder": ["python", ...]}}``.
The environment is the deployment's (HAULER_BROKER_URL, HAULER_DATA_DIR, ...).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from hauler import broker
from hauler.deployment import deployment_id
from hauler.settings import get_settings
from hauler.supervisor import Supervisor
from hauler.supervisor_control import SupervisorControl


def main(argv: list[str]) -> int:
    spec = json.loads(argv[1])
    settings = get_settings()
    control = SupervisorControl(broker.shared(settings.broker_url), deployment_id(settings))
    supervisor = Supervisor(
        os.environ,
        Path(spec["log_dir"]),
        grace=10.0,
        control=control,
        restart_grace=float(spec.get("restart_grace", 5.0)),
    )
    for name, argv_of_child in spec["children"].items():
        supervisor.start(name, argv_of_child)
    return supervisor.run()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
