"""kombu's Redis transport, except that a requeued message goes to the front of its queue.

kombu LPUSHes new messages and consumes with BRPOP from the right, so the right end is
the front. Its ``QoS.reject(requeue=True)`` — what Celery does when a pool process dies
under a late-ack task — LPUSHes the message back, behind the whole backlog; here it is
RPUSHed, so the interrupted task runs next. Selected by ``broker_transport`` in
celeryconfig; everything else is kombu's.
"""

from __future__ import annotations

from kombu.transport import redis as kombu_redis
from kombu.transport import virtual


class QoS(kombu_redis.QoS):
    """Redis ack emulation whose requeue puts the message at the front."""

    def reject(self, delivery_tag: str, requeue: bool = False) -> None:
        if not requeue:
            super().reject(delivery_tag, requeue=False)
            return
        self.restore_by_tag(delivery_tag, leftmost=False)  # RPUSH: the next one BRPOPped
        virtual.QoS.ack(self, delivery_tag)  # forget it locally, as kombu's reject does


class Channel(kombu_redis.Channel):
    """kombu's Redis channel with the QoS above."""

    QoS = QoS


class Transport(kombu_redis.Transport):
    """kombu's Redis transport with the channel above."""

    Channel = Channel
