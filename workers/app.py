"""The Celery app: configured from celeryconfig, with the beat schedule and Hauler's hooks."""

from __future__ import annotations

from celery import Celery

import beat_schedule
from hauler.settings import get_settings
from workers import context, deliveries, logs, signals

app = Celery("hauler")
app.config_from_object("celeryconfig")
app.conf.beat_schedule = beat_schedule.load(get_settings().beat_schedule)

signals.connect(app)
context.connect(app)  # the task's correlation for the recorder, at receipt
logs.connect(app)  # secrets masked in every log record
deliveries.connect(app)  # the heartbeat that lets dead workers' messages go back
