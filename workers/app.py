"""The Celery app: configured from celeryconfig, with the beat schedule and signals wired."""

from __future__ import annotations

from celery import Celery

import beat_schedule
from workers import deliveries

app = Celery("hauler")
app.config_from_object("celeryconfig")
app.conf.beat_schedule = beat_schedule.SCHEDULE
deliveries.connect(app)  # the heartbeat that lets dead workers' messages go back

import workers.signals  # noqa: E402,F401  (connects the publish and worker hooks)
