"""Tasks of the ``media`` queue."""

from __future__ import annotations

from tasks._ping import queue_ping

ping = queue_ping("media")
