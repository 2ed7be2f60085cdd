"""A bencode encoder and a single-file .torrent maker, for seeding test files on loopback."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

PIECE_LENGTH = 256 * 1024

Bencodable = int | bytes | str | list["Bencodable"] | dict[str, "Bencodable"]


def bencode(value: Bencodable) -> bytes:
    """``value`` in BitTorrent's bencoding (BEP 3); dictionary keys sorted as raw bytes.

    Raises:
        TypeError: a value that bencoding has no form for (a float, None, a bool…).
    """
    if isinstance(value, bool) or not isinstance(value, int | bytes | str | list | dict):
        raise TypeError(f"cannot bencode {type(value).__name__}")
    if isinstance(value, int):
        return b"i%de" % value
    if isinstance(value, str):
        value = value.encode()
    if isinstance(value, bytes):
        return b"%d:%s" % (len(value), value)
    if isinstance(value, list):
        return b"l" + b"".join(bencode(item) for item in value) + b"e"
    pairs = sorted((key.encode(), item) for key, item in value.items())
    return b"d" + b"".join(bencode(key) + bencode(item) for key, item in pairs) + b"e"


@dataclass(frozen=True)
class Torrent:
    """A single-file torrent: its metainfo bytes and what identifies it."""

    metainfo: bytes  # the .torrent file's contents
    info_hash: str  # hex SHA-1 of the bencoded info dictionary
    name: str
    size: int

    def magnet(self, *peers: str) -> str:
        """A magnet link for it, with ``x.pe=HOST:PORT`` hints for ``peers``."""
        hints = "".join(f"&x.pe={quote(peer, safe='')}" for peer in peers)
        return f"magnet:?xt=urn:btih:{self.info_hash}&dn={quote(self.name)}{hints}"


def make_torrent(path: Path, piece_length: int = PIECE_LENGTH) -> Torrent:
    """A trackerless single-file torrent for the file at ``path`` (no announce, not private)."""
    data = path.read_bytes()
    pieces = b"".join(
        hashlib.sha1(data[start : start + piece_length]).digest()
        for start in range(0, max(len(data), 1), piece_length)
    )
    info: dict[str, Bencodable] = {
        "name": path.name,
        "length": len(data),
        "piece length": piece_length,
        "pieces": pieces,
    }
    metainfo = bencode({"info": info, "created by": "hauler tests"})
    info_hash = hashlib.sha1(bencode(info)).hexdigest()
    return Torrent(metainfo, info_hash, path.name, len(data))
