"""The Celery app: configured from celeryconfig, with the beat schedule and Hauler's hooks."""

from __future__ import annotations

from celery import Celery

import beat_schedule
from workers import signals

app = Celery("hauler")
app.config_from_object("celeryconfig")
app.conf.beat_schedule = beat_schedule.SCHEDULE

signals.connect(app)
