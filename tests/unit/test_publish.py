"""Hauler's publishing path is wired to Hauler's app alone; task-sent fields come from headers."""

from __future__ import annotations

import pytest
from celery import Celery
from celery.app.amqp import AMQP

from workers.publish import HaulerAMQP, sent_event
from workers.signals import connect


def test_connect_gives_only_that_app_the_stamping_publisher():
    # given two apps in one process, one of them connected
    ours, theirs = Celery("ours"), Celery("theirs")
    connect(ours)
    # then only the connected app publishes through Hauler's path
    assert isinstance(ours.amqp, HaulerAMQP)
    assert type(theirs.amqp) is AMQP


def test_connect_after_the_app_made_its_publisher_is_refused():
    # given an app that has already made its publishing object
    app = Celery("late")
    assert app.amqp is not None
    # when it is connected, then it says so instead of silently not stamping
    with pytest.raises(RuntimeError, match="before the app publishes"):
        connect(app)


def test_the_sent_event_carries_the_ids_the_recorder_files_rows_under():
    # given the headers of a stamped child message
    headers = {
        "id": "t2",
        "root_id": "t1",
        "parent_id": "t1",
        "retries": None,
        "eta": None,
        "hauler_correlation_id": "order-45",
        "hauler_causation_id": "t1",
    }
    # when its task-sent fields are made
    fields = sent_event("downloads.fetch", headers)
    # then they name the task, its lineage and its correlation and causation ids
    assert fields == {
        "uuid": "t2",
        "name": "downloads.fetch",
        "root_id": "t1",
        "parent_id": "t1",
        "retries": 0,
        "eta": None,
        "expires": None,
        "correlation_id": "order-45",
        "causation_id": "t1",
    }
