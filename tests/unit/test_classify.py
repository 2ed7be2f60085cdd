"""Argument checking names the argument; only transient errors are retried."""

from __future__ import annotations

import inspect

import pytest
import requests
from celery.exceptions import SoftTimeLimitExceeded

from hauler.errors import InvalidArgument, RetryableError, Unsupported
from workers.classify import check_arguments, failure_reason, is_retryable


def fetch(url: str, *, dest: str | None = None, sha256: str | None = None) -> None: ...


SIGNATURE = inspect.signature(fetch)


@pytest.mark.parametrize(
    ("args", "kwargs", "argument"),
    [
        ((), {}, "url"),
        ((), {"dest": "/x"}, "url"),
        (("u",), {"colour": "red"}, "colour"),
        (("u", "extra"), {}, "args"),
    ],
)
def test_bad_arguments_name_the_argument(args, kwargs, argument):
    with pytest.raises(InvalidArgument) as caught:
        check_arguments(SIGNATURE, args, kwargs)
    assert caught.value.argument == argument


def test_good_arguments_pass():
    check_arguments(SIGNATURE, ("u",), {"dest": "/x"})
    check_arguments(SIGNATURE, (), {"url": "u", "sha256": "00"})


@pytest.mark.parametrize(
    ("exc", "retryable", "reason"),
    [
        (RetryableError("busy"), True, "exhausted"),
        (ConnectionResetError(), True, "exhausted"),
        (requests.exceptions.ConnectTimeout(), True, "exhausted"),
        (InvalidArgument("x", "bad"), False, "permanent"),
        (Unsupported("ed2k links"), False, "permanent"),
        (requests.exceptions.HTTPError("404"), False, "unexpected"),
        (KeyError("bug"), False, "unexpected"),
        (SoftTimeLimitExceeded(), False, "timeout"),
    ],
)
def test_classification(exc, retryable, reason):
    assert is_retryable(exc) is retryable
    assert failure_reason(exc) == reason


def test_invalid_argument_survives_pickling_for_result_backends():
    import pickle

    again = pickle.loads(pickle.dumps(InvalidArgument("delay", "must be a number")))
    assert (again.argument, again.reason) == ("delay", "must be a number")
