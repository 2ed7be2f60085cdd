"""Tasks of the ``polling`` queue: ``polling.watch`` and ``polling.poll_clients``."""

from __future__ import annotations

from tasks._ping import queue_ping

ping = queue_ping("polling")
