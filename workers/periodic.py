"""Each periodic run happens once: a task claims its scheduled run before it starts.

Beat stamps every message it sends with the run it is for (:data:`RUN_HEADER`, the
schedule entry's name and the UNIX second it was due; see workers/scheduler.py). One
beat can still send a run twice (Celery #7577), so a task first claims
``hauler:periodic:<entry>:<due>`` in Redis with ``SET NX``; a second message for the
same run finds the claim taken and is dropped without running. A redelivery of the
claiming message itself (same task id, e.g. after its worker died) still runs.
"""

from __future__ import annotations

import logging
from typing import Any

from celery.exceptions import Ignore

from hauler import broker
from hauler.correlation import request_header
from hauler.errors import InvalidArgument
from hauler.settings import get_settings

log = logging.getLogger(__name__)

#: Header beat puts on a scheduled message: "<entry name>:<UNIX second it was due>".
RUN_HEADER = "hauler_periodic_run"
#: The claim of one scheduled run; its value is the id of the task that runs it.
CLAIM_KEY = "hauler:periodic:{run}"
#: Seconds a claim is kept: far longer than any beat can lag behind its schedule.
CLAIM_SECONDS = 86400
_LONGEST_RUN = 300  # characters of a run header; longer is not beat's


def claim(request: Any) -> bool:
    """Whether the task of ``request`` may run: not periodic, or first for its run."""
    run = request_header(request, RUN_HEADER)
    if run is None:
        return True
    if not isinstance(run, str) or not run or len(run) > _LONGEST_RUN:
        raise InvalidArgument(RUN_HEADER, f"must be text of at most {_LONGEST_RUN} characters")
    client = broker.shared(get_settings().broker_url)
    key = CLAIM_KEY.format(run=run)
    if client.set(key, request.id, nx=True, ex=CLAIM_SECONDS):
        return True
    holder = client.get(key)
    return isinstance(holder, bytes) and holder.decode() == request.id


def run_once(task: Any) -> None:
    """Drop (``Ignore``) a second message for a periodic run that already has a task."""
    if not claim(task.request):
        log.info(
            "%s[%s]: periodic run %s already ran; dropped",
            task.name,
            task.request.id,
            request_header(task.request, RUN_HEADER),
        )
        raise Ignore()
