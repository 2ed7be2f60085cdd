"""The recorder process: capture events, write rows in batches, sample queues, serve metrics."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from celery import Celery

from hauler import broker, logfilter, parking, redelivery
from hauler.queues import DEFAULT_QUEUE, QUEUES
from hauler.recorder import heartbeat
from hauler.recorder.http import PostHandler, serve
from hauler.recorder.metrics import Metrics
from hauler.recorder.rows import ContextCache, to_row
from hauler.recorder.writer import BatchWriter, database_sink
from hauler.settings import Settings
from hauler.transfers.store import counts as transfer_counts

log = logging.getLogger(__name__)

SAMPLE_SECONDS = 5.0
WORKER_INSPECT_SECONDS = 30.0


class Recorder:
    """Everything ``hauler recorder`` runs, stoppable from another thread."""

    def __init__(self, settings: Settings, app: Celery) -> None:
        self.settings = settings
        self.app = app
        self.metrics = Metrics()
        self.cache = ContextCache()
        self.writer = BatchWriter(
            database_sink(settings.database_url),
            batch_size=settings.recorder_batch_size,
            flush_seconds=settings.recorder_flush_seconds,
            buffer_max=settings.recorder_buffer_max,
        )
        self.stop = threading.Event()
        self.connected = False
        self._receiver: Any = None
        self._document: tuple[float, dict[str, Any]] | None = None
        self._document_lock = threading.Lock()

    def on_event(self, event: dict[str, Any]) -> None:
        """Handle one Celery event: a row for the activity log and the metrics."""
        row = to_row(event, self.cache, datetime.now(UTC))
        if row is not None:
            self.writer.add(row)
        context = self.cache.learn(event) if "uuid" in event else None
        self.metrics.observe(event, context)

    def health(self) -> tuple[bool, dict[str, Any]]:
        """Healthy while connected to the broker and the database accepts writes."""
        detail = {
            "broker_connected": self.connected,
            "buffered_rows": self.writer.buffered,
            "rows_written": self.writer.written,
            "rows_dropped": self.writer.dropped,
            "database_error": self.writer.last_error,
        }
        return self.connected and self.writer.last_error is None, detail

    def health_document(self) -> dict[str, Any]:
        """The deployment's health document for ``/health`` (reused for a few seconds).

        The recorder's own state is in it twice: as the ``recorder`` check (its heartbeat)
        and, at the top level, as the fields of :meth:`health`.
        """
        from hauler.health.report import health_document, summary

        with self._document_lock:
            cached = self._document
            if cached and time.monotonic() - cached[0] < self.settings.health.cache_seconds:
                return cached[1]
            ok, detail = self.health()
            with contextlib.suppress(Exception):  # fresh for its own check; the broker may be down
                heartbeat.beat(broker.shared(self.settings.broker_url), ok, detail)
            document = health_document(self.settings, extra=detail)
            self.metrics.health(summary(document))
            self._document = (time.monotonic(), document)
            return document

    def run(self, *, host: str | None = None, port: int | None = None) -> None:
        """Run until ``stop`` is set (or KeyboardInterrupt); HTTP on HAULER_LISTEN_ADDRESS."""
        host = self.settings.listen_address if host is None else host
        port = self.settings.recorder_port if port is None else port
        logfilter.install()
        server = serve(self.metrics.registry, self.health_document, host, port, posts=self._posts())
        log.info("recorder serving /metrics and /health on %s:%d", host, server.server_port)
        threads = [
            threading.Thread(target=self.writer.run, args=(self.stop,), name="writer"),
            threading.Thread(target=self._sample_loop, name="sampler", daemon=True),
            threading.Thread(  # gives dead workers' unacked messages back, one recorder at a time
                target=redelivery.run_sweeper,
                args=(self.settings, self.app, self.stop),
                name="redelivery",
                daemon=True,
            ),
        ]
        for thread in threads:
            thread.start()
        try:
            self._capture_loop()
        finally:
            self.stop.set()
            if self._receiver is not None:
                self._receiver.should_stop = True
            threads[0].join(timeout=15)
            server.shutdown()

    def _posts(self) -> dict[str, PostHandler]:
        """POST routes: Alertmanager's webhook into Hauler's receivers."""
        from hauler.alerts import intake
        from hauler.notify.service import protect

        protect(self.settings)
        app = self.app

        def later(task: str, kwargs: dict[str, Any], countdown: float) -> None:
            app.send_task(task, kwargs=kwargs, countdown=max(0.0, countdown), queue="notify")

        def alerts(body: bytes, headers: Mapping[str, str]) -> tuple[int, dict[str, Any]]:
            return intake.handle(self.settings, body, headers, later)

        return {intake.PATH: alerts}

    def _capture_loop(self) -> None:
        with self.app.connection_for_read() as probe:
            errors = (OSError, *probe.connection_errors)
        while not self.stop.is_set():
            try:
                with self.app.connection_for_read() as connection:
                    self._receiver = self.app.events.Receiver(
                        connection, handlers={"*": self.on_event}
                    )
                    self.connected = True
                    self._receiver.capture(limit=None, timeout=None, wakeup=True)
            except errors as exc:
                self.connected = False
                log.warning("event stream lost (%s); reconnecting", exc)
                self.stop.wait(2.0)

    def _sample_loop(self) -> None:
        client = broker.connect(self.settings.broker_url)
        last_inspect = 0.0
        while not self.stop.wait(SAMPLE_SECONDS if last_inspect else 0.1):
            try:
                for queue in (*QUEUES, DEFAULT_QUEUE):
                    reading = broker.sample(client, queue)
                    self.metrics.queue_length.labels(queue).set(reading.depth)
                    self.metrics.queue_latency.labels(queue).set(reading.latency)
                self._update_writer_metrics()
                self._count_transfers()
                heartbeat.beat(client, *self.health())
                if time.monotonic() - last_inspect > WORKER_INSPECT_SECONDS:
                    last_inspect = time.monotonic()
                    self._count_workers()
                    parking.drain(self.settings)
                    self.metrics.backups.load(self.settings)
            except Exception as exc:  # sampling is best effort; the event stream goes on
                log.warning("queue sampling failed: %s", exc)

    def _count_transfers(self) -> None:
        """``hauler_transfers{client,state}`` from the transfer rows (best effort)."""
        try:
            self.metrics.set_transfers(transfer_counts(self.settings.database_url))
        except Exception as exc:  # the database may be down; queue sampling goes on
            log.debug("could not count transfers: %s", exc)

    def _update_writer_metrics(self) -> None:
        self.metrics.buffered.set(self.writer.buffered)
        self.metrics.dropped.set(self.writer.dropped)
        self.metrics.written.set(self.writer.written)
        self.metrics.write_errors.set(self.writer.failures)
        self.metrics.refresh_workers()

    def _count_workers(self) -> None:
        replies = self.app.control.inspect(timeout=1.0).active_queues() or {}
        counts = dict.fromkeys((*QUEUES, DEFAULT_QUEUE), 0)
        for queues in replies.values():
            for queue in queues or ():
                name = queue.get("name")
                if name in counts:
                    counts[name] += 1
        for name, count in counts.items():
            self.metrics.queue_workers.labels(name).set(count)
