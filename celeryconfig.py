"""Celery settings, translated from Hauler's typed settings (hauler.settings); nothing else."""

from __future__ import annotations

from kombu import Queue

from hauler.queues import DEFAULT_QUEUE, QUEUES
from hauler.queues import task_routes as _routes
from hauler.settings import get_settings

_settings = get_settings()

# Broker and results.
broker_url = _settings.broker_url
result_backend = _settings.result_backend or _settings.broker_url
result_expires = _settings.result_expires
result_extended = True  # results carry name, args and queue for foreign readers
broker_connection_retry_on_startup = True
broker_transport = "hauler.transport:Transport"  # kombu's Redis; a requeue goes to the front
broker_transport_options = {
    "visibility_timeout": _settings.effective_visibility_timeout,
    "unacked_restore_interval": _settings.unacked_restore_seconds,
    "unacked_restore_throttle": 1,  # every sweep really scans
    "fanout_prefix": True,  # events stay within this Redis database
    "fanout_patterns": True,
}
result_backend_transport_options = {"visibility_timeout": _settings.effective_visibility_timeout}
result_backend_always_retry = True  # a result is stored once Redis is back, not lost
result_backend_max_sleep_between_retries_ms = 1000  # …within a second of its return

# Serialization: JSON only; pickle is refused.
task_serializer = "json"
result_serializer = "json"
accept_content = ["json"]
result_accept_content = ["json"]

# Queues and routing: every queue declared; a task with an unknown queue fails.
task_queues = [Queue(name, routing_key=name) for name in (*QUEUES, DEFAULT_QUEUE)]
task_default_queue = DEFAULT_QUEUE
task_create_missing_queues = False
task_routes = _routes()

# Reliability: late acks are set per task by the task base; the worker fetches one at a time.
worker_prefetch_multiplier = 1
task_acks_on_failure_or_timeout = True
task_track_started = True
# A lost broker connection leaves running tasks running: their results wait for Redis
# (above); an ack that cannot reach Redis leaves the message unacked, and the redelivery
# sweeper (hauler/redelivery.py) gives it back once no worker holds it, where the
# already-finished task is acknowledged without running again.
worker_cancel_long_running_tasks_on_connection_loss = False
worker_deduplicate_successful_tasks = True  # a redelivered task that succeeded is not rerun

# Events, for the recorder and Flower. "task-sent" is published by Hauler's own
# publish hook (it carries the correlation id), so Celery's is off.
worker_send_task_events = True
task_send_sent_event = False

# Tasks.
imports = ("tasks", *_settings.imports)
timezone = "UTC"
enable_utc = True
worker_hijack_root_logger = False

# Beat: one beat per deployment at a time (celery-redbeat's Redis lock; workers/scheduler.py).
# A standby beat polls the lock every beat_max_loop_interval and takes over once a dead
# holder's lock expires; the holder renews it on every tick, at most that far apart.
beat_scheduler = "workers.scheduler:PeriodicScheduler"
redbeat_redis_url = _settings.broker_url
redbeat_redis_options = {"retry_period": 60}  # ride out a short Redis restart
redbeat_key_prefix = "hauler:redbeat:"  # entries are hauler:redbeat:<name>
redbeat_lock_timeout = _settings.beat_lock_timeout
beat_max_loop_interval = _settings.beat_max_loop_interval
