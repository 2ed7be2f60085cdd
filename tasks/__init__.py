"""Celery tasks, one module per queue. Importing this package registers them all."""

from tasks import (  # noqa: F401
    archives,
    backups,
    downloads,
    health,
    maintenance,
    media,
    notify,
    polling,
    recovery,
    uploads,
)
