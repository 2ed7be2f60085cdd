"""Link detection, table-driven."""

from __future__ import annotations

import pytest

from hauler.downloads.links import LinkKind, classify
from hauler.errors import InvalidArgument, Unsupported

HASH = "c12fe1c06bba254a9dc9f519b335aa7c1367a88a"


@pytest.mark.parametrize(
    ("url", "kind", "local"),
    [
        ("http://example.invalid/file.iso", LinkKind.DIRECT, False),
        ("https://example.invalid/a/b.tar.gz?x=1", LinkKind.DIRECT, False),
        ("ftp://mirror.invalid/pub/file.bin", LinkKind.DIRECT, False),
        (f"magnet:?xt=urn:btih:{HASH}&dn=x", LinkKind.MAGNET, False),
        (f"magnet:?xt=urn:btih:{HASH.upper()}", LinkKind.MAGNET, False),
        ("magnet:?xt=urn:btih:ZOCMZQIPFFW7OLLMIC5HUB6BPCSDEOQU", LinkKind.MAGNET, False),
        ("magnet:?xt=urn:btmh:1220" + "ab" * 32, LinkKind.MAGNET, False),
        ("https://example.invalid/ubuntu.torrent", LinkKind.TORRENT, False),
        ("https://example.invalid/show.NZB", LinkKind.NZB, False),
        ("/srv/in/linux.torrent", LinkKind.TORRENT, True),
        ("file:///srv/in/show.nzb", LinkKind.NZB, True),
    ],
)
def test_link_kinds(url, kind, local):
    link = classify(url)
    assert (link.kind, link.local) == (kind, local)


def test_magnets_carry_their_info_hash():
    assert classify(f"magnet:?xt=urn:btih:{HASH.upper()}").info_hash == HASH


@pytest.mark.parametrize(
    "url",
    [
        "https://drive.google.com/file/d/abc/view",
        "https://www.dropbox.com/s/abc/file.zip",
        "https://mega.nz/file/abc",
        "https://1drv.ms/u/s!abc",
        "gopher://old.invalid/x",
        "javascript:alert(1)",
        "/etc/passwd",
    ],
)
def test_unsupported(url):
    with pytest.raises(Unsupported):
        classify(url)


@pytest.mark.parametrize(
    "url", ["", "   ", "magnet:?dn=nohash", "magnet:?xt=urn:btih:123", "http:///x"]
)
def test_invalid(url):
    with pytest.raises(InvalidArgument) as caught:
        classify(url)
    assert caught.value.argument == "url"
