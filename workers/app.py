"""The Celery app: configured from celeryconfig, with the beat schedule and signals wired."""

from __future__ import annotations

from celery import Celery

import beat_schedule
from hauler.settings import get_settings

app = Celery("hauler")
app.config_from_object("celeryconfig")
app.conf.beat_schedule = beat_schedule.load(get_settings().beat_schedule)

import workers.signals  # noqa: E402,F401  (connects the publish and worker hooks)
from workers import context, logs  # noqa: E402  (sinks: context events, redacted logs)

context.connect(app)
logs.connect(app)
