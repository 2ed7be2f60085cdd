"""downloads.fetch's arguments: every bad one is named, local inputs stay inside their roots."""

from __future__ import annotations

from pathlib import Path

import pytest

from hauler.downloads.fetch import validate
from hauler.downloads.links import LinkKind
from hauler.errors import InvalidArgument
from hauler.settings import Settings


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings.from_env({"HAULER_DATA_DIR": str(tmp_path / "data")})


def check(settings: Settings, url: str, **kwargs: object):
    args = {"dest": None, "filename": None, "client": "auto", "sha256": None, "max_bytes": None}
    args.update(kwargs)
    return validate(settings, url, **args)  # type: ignore[arg-type]


def test_a_local_torrent_under_the_data_dir_is_accepted(settings: Settings) -> None:
    torrent = settings.data_dir / "in" / "linux.torrent"
    torrent.parent.mkdir(parents=True)
    torrent.write_bytes(b"d4:infod4:name1:xee")
    request = check(settings, str(torrent))
    assert request.link.kind is LinkKind.TORRENT and request.link.local
    assert request.dest == settings.download_dir.resolve()


@pytest.mark.parametrize(
    ("url", "kwargs", "argument"),
    [
        ("/etc/passwd.torrent", {}, "url"),  # outside the input roots
        ("{data}/missing.nzb", {}, "url"),  # inside, but no such file
        ("https://example.invalid/a", {"dest": "/abs"}, "dest"),
        ("https://example.invalid/a", {"dest": "../.."}, "dest"),
        ("https://example.invalid/a", {"filename": "../x"}, "filename"),
        ("https://example.invalid/a", {"client": ""}, "client"),
        ("https://example.invalid/a", {"sha256": "xyz"}, "sha256"),
        ("https://example.invalid/a", {"max_bytes": 0}, "max_bytes"),
        ("https://example.invalid/a", {"max_bytes": True}, "max_bytes"),
        ("", {}, "url"),
    ],
)
def test_bad_arguments_are_named(settings: Settings, url: str, kwargs, argument: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        check(settings, url.format(data=settings.data_dir), **kwargs)
    assert caught.value.argument == argument
