"""Redact every log record of Hauler's worker processes (Celery's loggers included)."""

from __future__ import annotations

import logging
from typing import Any

from celery import Celery
from celery.signals import after_setup_logger, after_setup_task_logger

from hauler import logfilter


def connect(app: Celery) -> None:
    """Install the redacting filter on the handlers Celery sets up for ``app``'s workers.

    Celery sends these signals without a sender, from the process whose logging it
    sets up (the worker, each pool process after the fork, beat): connecting them in
    ``app``'s module means only processes that run ``app`` install the filter.
    """
    del app  # the signals name no app

    def install(logger: logging.Logger | None = None, **_: Any) -> None:
        logfilter.install(logger)
        logfilter.install()

    after_setup_logger.connect(install, weak=False)
    after_setup_task_logger.connect(install, weak=False)
