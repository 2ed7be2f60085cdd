"""kombu's Redis transport, with a requeue to the front and no giving back of running tasks.

kombu LPUSHes new messages and consumes with BRPOP from the right, so the right end is
the front. Its ``QoS.reject(requeue=True)`` — what Celery does when a pool process dies
under a late-ack task — LPUSHes the message back, behind the whole backlog; here it is
RPUSHed, so the interrupted task runs next.

kombu also gives back every unacknowledged message when a channel closes: right at a
warm shutdown, but wrong when the broker connection is lost and Redis is still there —
the tasks are still running (Hauler does not cancel them), so they would run twice.
Here a message whose task is running in this worker stays unacknowledged; its ack, or
the redelivery sweeper (``hauler/redelivery.py``) if the ack is lost, settles it.

Selected by ``broker_transport`` in celeryconfig; everything else is kombu's.
"""

from __future__ import annotations

from typing import Any

from kombu.transport import redis as kombu_redis
from kombu.transport import virtual


def running_tags() -> frozenset[str]:
    """Delivery tags of the tasks running in this worker (none outside a worker)."""
    from celery.worker import state

    return frozenset(str(request.message.delivery_tag) for request in state.active_requests)


class QoS(kombu_redis.QoS):
    """Redis ack emulation whose requeue puts the message at the front."""

    def reject(self, delivery_tag: str, requeue: bool = False) -> None:
        if not requeue:
            super().reject(delivery_tag, requeue=False)
            return
        self.restore_by_tag(delivery_tag, leftmost=False)  # RPUSH: the next one BRPOPped
        virtual.QoS.ack(self, delivery_tag)  # forget it locally, as kombu's reject does

    def restore_unacked(self, client: Any = None) -> None:
        delivered: Any = self._delivered  # kombu's OrderedDict of tag → message
        if getattr(self.channel.connection, "client", None) is None:
            # After a lost connection kombu may close the channel once its connection is
            # torn down; kombu's own restore would raise AttributeError there and stop the
            # worker. The messages stay unacknowledged; the sweeper gives them back.
            delivered.clear()
            return
        running = running_tags()
        with self.channel.conn_or_acquire(client) as client:
            for tag in list(delivered):
                if str(tag) not in running:
                    self.restore_by_tag(tag, client=client)
        delivered.clear()


class Channel(kombu_redis.Channel):
    """kombu's Redis channel with the QoS above."""

    QoS = QoS


class Transport(kombu_redis.Transport):
    """kombu's Redis transport with the channel above."""

    Channel = Channel
