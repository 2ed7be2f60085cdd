"""``task-sent`` events, published in batches by one thread per process (reset after fork).

A publishing thread only puts the event on a local queue; the process's sender thread
publishes what has gathered as one ``task.multi`` message (a list of events, which
Celery's event receivers, the recorder and Flower read). The sender publishes at most
once per ``linger`` seconds: an event after a quiet spell goes out at once, and under
load one Redis round trip carries many events instead of one each, so publishing a task
costs little more than bare Celery's. A forked child starts its own sender.

The sender also counts each batch's messages per queue into the publish counters the
autoscaler reads its arrival rate from (``hauler:queue:<q>:published``): one pipelined
``INCRBY`` per queue per batch, off the publishing thread.
"""

from __future__ import annotations

import atexit
import logging
import os
import queue
import threading
import time
from collections import Counter
from typing import Any

from celery import Celery
from celery.utils.time import utcoffset

from autoscale.signals import PUBLISHED_KEY
from hauler import broker

log = logging.getLogger(__name__)

_STOP = object()
FORK_WAIT = 5.0  # longest a fork waits for an event send in progress (seconds)


class SentEvents:
    """Celery's event-dispatcher ``publish`` for one app's ``task-sent`` events, batched.

    Args:
        app: the app whose broker and event exchange carry the events.
        batch: most events in one published message.
        linger: least seconds between two published messages (the most an event waits).
        backlog: most events waiting in memory; past it new events are dropped (counted).
    """

    def __init__(
        self, app: Celery, batch: int = 500, linger: float = 0.01, backlog: int = 100_000
    ) -> None:
        self.app = app
        self.batch = batch
        self.linger = linger
        self.backlog = backlog
        self.dropped = 0  # events not published: backlog full or the broker refused them
        self._lock = threading.Lock()
        self._pid = 0
        self._queue: queue.Queue[Any] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._exit_hook = False
        self._sending = threading.Lock()  # held while the sender talks to the broker
        self._fork_waited = False
        os.register_at_fork(
            before=self._before_fork,
            after_in_parent=self._after_fork_in_parent,
            after_in_child=self._forget_parent,
        )

    def publish(self, type: str, fields: dict[str, Any], producer: Any = None, **_: Any) -> None:
        """Queue one event (same signature as ``EventDispatcher.publish``); never blocks."""
        event = dict(fields, type=type, timestamp=fields.get("timestamp") or time.time())
        try:
            self._current().put_nowait(event)
        except (queue.Full, RuntimeError):  # backlog full, or no new thread at shutdown
            self.dropped += 1

    def close(self, timeout: float = 5.0) -> None:
        """Publish what is waiting and stop this process's sender thread."""
        with self._lock:
            thread, waiting = self._thread, self._queue
            self._thread = None
        if thread is None or self._pid != os.getpid():
            return
        try:
            waiting.put(_STOP, timeout=timeout)
        except queue.Full:
            return
        thread.join(timeout)

    def _before_fork(self) -> None:
        """Fork between two sends, never in one (a child must not inherit the sender's locks)."""
        self._fork_waited = self._sending.acquire(timeout=FORK_WAIT)

    def _after_fork_in_parent(self) -> None:
        if self._fork_waited:
            self._sending.release()

    def _forget_parent(self) -> None:
        """In a forked child: the parent's thread and queue are not ours; its locks are fresh."""
        self._lock = threading.Lock()
        self._sending = threading.Lock()
        self._thread = None

    def _current(self) -> queue.Queue[Any]:
        """This process's queue, with its sender thread running (a fresh pair after fork)."""
        if self._thread is not None and self._pid == os.getpid():
            return self._queue
        with self._lock:
            if self._thread is None or self._pid != os.getpid():
                self._pid = os.getpid()
                self._queue = queue.Queue(maxsize=self.backlog)
                self._thread = threading.Thread(
                    target=self._run, args=(self._queue,), name="hauler-sent-events", daemon=True
                )
                self._thread.start()
                if not self._exit_hook:
                    atexit.register(self.close)
                    self._exit_hook = True
            return self._queue

    def _run(self, waiting: queue.Queue[Any]) -> None:
        dispatcher: Any = None
        stopping = False
        sent_at = 0.0
        while not stopping:
            batch = [waiting.get()]
            pause = sent_at + self.linger - time.monotonic()
            if pause > 0 and batch[0] is not _STOP:
                time.sleep(pause)
            while len(batch) < self.batch:
                try:
                    batch.append(waiting.get_nowait())
                except queue.Empty:
                    break
            stopping = any(item is _STOP for item in batch)
            events = [item for item in batch if item is not _STOP]
            if events:
                with self._sending:
                    dispatcher = self._send(dispatcher, events)
                    self._count(events)
                sent_at = time.monotonic()
        if dispatcher is not None:
            dispatcher.connection.release()

    def _count(self, events: list[dict[str, Any]]) -> None:
        """Add ``events`` to the per-queue publish counters (best effort, like the events)."""
        per_queue = Counter(
            str(queue)
            for event in events
            if event.get("type") == "task-sent"
            and (queue := event.get("routing_key") or event.get("queue"))
        )
        url = str(self.app.conf.broker_url or "")
        if not per_queue or not url.startswith(("redis://", "rediss://", "unix://")):
            return
        try:
            with broker.shared(url).pipeline(transaction=False) as pipe:
                for queue, n in per_queue.items():
                    pipe.incrby(PUBLISHED_KEY.format(queue=queue), n)
                pipe.execute()
        except Exception:
            log.debug("could not count %d published messages", len(events), exc_info=True)

    def _send(self, dispatcher: Any, events: list[dict[str, Any]]) -> Any:
        """Publish ``events`` as one message; returns the dispatcher to reuse (None if broken)."""
        try:
            if dispatcher is None:
                dispatcher = self.app.events.Dispatcher(
                    self.app.connection_for_write(), enabled=True, buffer_while_offline=False
                )
            common = {
                "hostname": dispatcher.hostname,
                "pid": dispatcher.pid,
                "clock": self.app.clock.forward(),  # receivers re-clock task-sent anyway
                "utcoffset": utcoffset(),
            }
            for event in events:
                event.update(common)
            dispatcher.producer.publish(
                events,
                routing_key="task.multi",
                exchange=dispatcher.exchange.name,
                declare=[dispatcher.exchange],
                serializer=dispatcher.serializer,
                headers=dispatcher.headers,
                delivery_mode=dispatcher.delivery_mode,
                retry=False,
            )
            return dispatcher
        except Exception:  # the tasks are published; their events are best effort
            self.dropped += len(events)
            log.warning("could not publish %d task-sent events", len(events), exc_info=True)
            if dispatcher is not None:
                dispatcher.connection.release()
            return None
