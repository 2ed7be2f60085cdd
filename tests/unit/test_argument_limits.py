"""Inputs that used to fail as bugs are InvalidArgument naming the argument."""

from __future__ import annotations

from pathlib import Path

import pytest

from hauler.deadletter import MAX_LETTER_ID, parse_ident
from hauler.downloads.safety import inside, safe_name
from hauler.errors import InvalidArgument
from hauler.health import ran_on
from hauler.paths import file_under_roots

BAD_PATH_TEXT = [
    ("/tmp/a\x00b", "NUL"),
    ("/" + "a" * 1_000_000, "bytes long"),
    ("/tmp/\ud800", "surrogate"),
    ("/tmp/" + "n" * 300, "longer than 255"),
]


@pytest.mark.parametrize(("value", "says"), BAD_PATH_TEXT)
def test_a_path_that_cannot_name_a_file_is_refused_naming_the_argument(value, says, tmp_path):
    with pytest.raises(InvalidArgument, match=says) as caught:
        file_under_roots(value, [tmp_path], "HAULER_MEDIA_ROOTS")
    assert caught.value.argument == "path"
    assert len(str(caught.value)) < 300


@pytest.mark.parametrize(("value", "says"), [(v.lstrip("/"), s) for v, s in BAD_PATH_TEXT])
def test_a_dest_that_cannot_name_a_directory_is_refused(value, says, tmp_path: Path):
    with pytest.raises(InvalidArgument, match=says) as caught:
        inside(tmp_path, value)
    assert caught.value.argument == "dest"


@pytest.mark.parametrize(
    ("raw", "kept"),
    [
        ("invoice\u202etxt.exe", "invoicetxt.exe"),
        ("a\u200bb\u2066c.txt", "abc.txt"),
        ("bell\x07.txt", "bell_.txt"),
        ("\ud800x.bin", "x.bin"),
    ],
)
def test_names_drop_format_characters_and_surrogates(raw, kept):
    assert safe_name(raw) == kept


@pytest.mark.parametrize(
    "ident", [10**30, "1" * 30, 0, -3, "x" * 65, "a\x00b", "", True, 3.0, None]
)
def test_a_letter_that_cannot_be_an_id_is_refused_naming_letter(ident):
    with pytest.raises(InvalidArgument) as caught:
        parse_ident(ident)
    assert caught.value.argument == "letter"


def test_ascii_digits_and_task_ids_are_ids():
    assert parse_ident("3") == 3
    assert parse_ident("٣") == "٣"  # a non-ASCII digit is not dead letter 3 (a task id, if any)
    assert parse_ident(MAX_LETTER_ID) == MAX_LETTER_ID
    assert parse_ident("5f0c-task") == "5f0c-task"


def test_a_ping_names_the_queue_it_was_delivered_from():
    class Request:
        delivery_info = {"routing_key": "health"}

    assert ran_on(Request(), "media") == "health"
    assert ran_on(object(), "media") == "media"
