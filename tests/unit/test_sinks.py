"""What Hauler stores and logs: ids cleaned, values capped, secrets masked, outcomes per task."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

import pytest

from hauler.clip import BUDGET, MAX_CHARS, MAX_ITEMS, clip, text
from hauler.correlation import CORRELATION_HEADER, MAX_ID, clean_id, stamp_headers
from hauler.deadletter import Failure, sanitized
from hauler.logfilter import RedactingFilter
from hauler.maintenance import outcome, tally
from hauler.recorder.rows import ContextCache, to_row
from hauler.redact import redact_exception

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
SECRET_URL = "http://user:hunter2@127.0.0.1:9/f"


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("order-45", "order-45"),
        ("x" * 76, "x" * MAX_ID),
        (45, "45"),
        (" order\n-1\x00 ", "order-1"),
        (["a"], None),
        ({"a": 1}, None),
        (True, None),
        ("", None),
        (None, None),
    ],
)
def test_a_header_id_is_text_of_at_most_64_characters_or_no_id(given, kept):
    assert clean_id(given) == kept


def test_stamping_cuts_a_callers_long_correlation_id_the_same_way():
    headers = {"id": "t1", CORRELATION_HEADER: "o" * 76}
    stamp_headers(headers, None)
    assert headers[CORRELATION_HEADER] == "o" * MAX_ID


def test_a_long_string_is_cut_with_a_marker_that_says_how_long_it_was():
    cut = text("a" * 1_000_000)
    assert cut.startswith("a" * MAX_CHARS) and cut.endswith("[truncated, 1000000 chars]")


def test_nul_and_lone_surrogates_are_stored_as_escapes():
    assert text("a\x00b") == "a\\x00b"
    assert text("\ud800").encode("utf-8") == b"\\ud800"


def test_structures_are_capped_in_items_depth_and_total_size():
    capped = clip({"big": ["x" * 5000] * 500})
    assert len(capped["big"]) == MAX_ITEMS + 1
    assert capped["big"][-1] == "…[truncated, 500 items]"
    assert len(json.dumps(capped)) < BUDGET * 1.5
    assert "nested too deep" in json.dumps(clip([[[[[[[["bottom"]]]]]]]]))


def test_a_dead_letter_is_stored_redacted_and_capped():
    failure = Failure(
        task_id="t1",
        task_name="downloads.fetch",
        queue="downloads",
        args=[SECRET_URL, "p" * 1_000_000],
        kwargs={"password": "hunter2", "dest": "a\x00b"},
        reason="exhausted",
        exception=f"RetryableError: cannot reach {SECRET_URL}",
        traceback=f"Traceback ...\nRetryableError: {SECRET_URL}",
        correlation_id="c" * 76,
        causation_id=None,
        attempts=3,
    )
    stored = sanitized(failure)
    assert "hunter2" not in json.dumps([stored.args, stored.kwargs, stored.exception])
    assert "hunter2" not in stored.traceback
    assert len(stored.args[1]) < 1100 and "truncated" in stored.args[1]
    assert stored.kwargs["dest"] == "a\\x00b"
    assert stored.correlation_id == "c" * MAX_ID


def test_a_letter_with_nonsense_attempts_is_refused_not_stored():
    failure = Failure("t", "n", None, [], {}, "permanent", "E", "", None, None, "many")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="attempts"):
        sanitized(failure)


def test_the_context_event_files_received_rows_under_a_foreign_correlation_id():
    cache = ContextCache()
    context = {
        "type": "hauler-task-context",
        "uuid": "t1",
        "name": "health.ping",
        "queue": "health",
        "correlation_id": "order-45",
        "causation_id": None,
    }
    assert to_row(context, cache, NOW) is None
    received = to_row({"type": "task-received", "uuid": "t1", "root_id": "t1"}, cache, NOW)
    started = to_row({"type": "task-started", "uuid": "t1"}, cache, NOW)
    for row in (received, started):
        assert row is not None
        assert (row["correlation_id"], row["queue"]) == ("order-45", "health")


def test_rows_mask_secrets_and_cut_long_ids():
    cache = ContextCache()
    event = {
        "type": "task-received",
        "uuid": "t2",
        "name": "downloads.fetch",
        "args": f"('{SECRET_URL}',)",
        "kwargs": "{'x': '" + "y" * 50_000 + "'}",
        "correlation_id": "z" * 76,
    }
    row = to_row(event, cache, NOW)
    assert row is not None
    assert "hunter2" not in json.dumps(row, default=str)
    assert row["correlation_id"] == "z" * MAX_ID
    assert len(row["payload"]["kwargs"]) < 1100
    domain = {
        "type": "hauler-activity",
        "kind": "download.client-chosen",
        "task_id": "t2",
        "payload": {"url": SECRET_URL, "token": "abcd"},
    }
    assert "hunter2" not in json.dumps(to_row(domain, cache, NOW), default=str)


def test_an_exception_and_its_cause_are_rewritten_without_the_secret():
    try:
        try:
            raise ConnectionError(f"refused: {SECRET_URL}")
        except ConnectionError as inner:
            raise RuntimeError(f"download of {SECRET_URL} failed", 7) from inner
    except RuntimeError as exc:
        redact_exception(exc)
        assert "hunter2" not in str(exc) and exc.args[1] == 7
        assert "hunter2" not in str(exc.__cause__)


def test_an_exception_without_secrets_is_left_alone():
    exc = ValueError("plain", 3)
    assert redact_exception(exc).args == ("plain", 3)


def test_the_log_filter_masks_messages_arguments_and_tracebacks():
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "got %s", (SECRET_URL,), None)
    try:
        raise RuntimeError(SECRET_URL)
    except RuntimeError:
        import sys

        record.exc_info = sys.exc_info()
    assert RedactingFilter().filter(record)
    formatted = logging.Formatter().format(record)
    assert "hunter2" not in formatted and "user:***@" in formatted


def test_an_outcome_is_per_task_the_strongest_final_status_or_where_it_waits():
    assert outcome(["SENT", "RECEIVED", "STARTED", "SUCCESS"]) == "succeeded"
    assert outcome(["STARTED", "FAILURE", "DEAD_LETTERED"]) == "dead_lettered"
    assert outcome(["STARTED", "RETRY"]) == "retried"
    assert outcome(["STARTED", "RETRY", "RECEIVED", "STARTED"]) == "still_running"
    assert outcome(["SENT"]) == "still_running"


def test_the_tally_counts_tasks_not_lifecycle_events():
    rows = [
        ("a", "health.ping", "SENT", None),
        ("a", "health.ping", "RECEIVED", None),
        ("a", "health.ping", "STARTED", None),
        ("a", "health.ping", "SUCCESS", None),
        ("b", "tests.flaky", "STARTED", None),
        ("b", "tests.flaky", "RETRY", None),
        ("b", "tests.flaky", "STARTED", None),
        ("b", "tests.flaky", "FAILURE", None),
        ("b", "tests.flaky", "DEAD_LETTERED", "exhausted"),
        ("c", "tests.flaky", "STARTED", None),
        ("c", "tests.flaky", "RETRY", None),
        ("d", "health.ping", "RECEIVED", None),
    ]
    report = tally(rows)
    assert report["outcomes"] == {
        "succeeded": 1,
        "failed": 0,
        "retried": 1,
        "dead_lettered": {"exhausted": 1},
        "revoked": 0,
        "still_running": 1,
        "with_retries": 2,
    }
    assert report["by_task"]["health.ping"]["succeeded"] == 1
    assert report["by_task"]["tests.flaky"]["dead_lettered"] == {"exhausted": 1}
