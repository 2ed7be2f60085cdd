"""What kind of link a download is, decided by a table of rules (first match wins)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from hauler.errors import InvalidArgument, Unsupported
from hauler.redact import redact_url


class LinkKind(Enum):
    """The kinds of link Hauler recognises."""

    DIRECT = "direct"  # http, https or ftp URL of a file
    MAGNET = "magnet"  # magnet:?xt=urn:btih:… or urn:btmh:…
    TORRENT = "torrent"  # a .torrent file: URL or local path
    NZB = "nzb"  # a .nzb file: URL or local path


@dataclass(frozen=True)
class Link:
    """A classified link."""

    kind: LinkKind
    url: str  # as given (a local path for local .torrent/.nzb files)
    local: bool = False  # True when ``url`` is a file on this machine
    info_hash: str | None = None  # for magnets

    @property
    def shown(self) -> str:
        """``url`` as messages, logs and events show it: passwords and secret values masked."""
        return redact_url(self.url)


CLOUD_HOSTS = re.compile(
    r"(^|\.)(drive\.google\.com|docs\.google\.com|dropbox\.com|mega\.nz|mega\.co\.nz|"
    r"onedrive\.live\.com|1drv\.ms|mediafire\.com|pcloud\.link|box\.com)$"
)
_BTIH = re.compile(r"^urn:btih:([0-9a-fA-F]{40}|[A-Za-z2-7]{32})$")
_BTMH = re.compile(r"^urn:btmh:1220[0-9a-fA-F]{64}$")


def classify(url: str) -> Link:
    """Classify ``url``.

    Raises:
        InvalidArgument: not a string, empty, or a malformed magnet.
        Unsupported: a scheme or a cloud-drive share Hauler does not download.
    """
    if not isinstance(url, str) or not url.strip():
        raise InvalidArgument("url", "must be a non-empty string")
    url = url.strip()
    if url.startswith("/"):
        return _local(url)
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "magnet":
        return _magnet(url, parts.query)
    if scheme == "file":
        return _local(parts.path)
    if scheme not in ("http", "https", "ftp"):
        raise Unsupported(
            f"unsupported scheme {scheme or '(none)'!r} in url (http, https, ftp, magnet)"
        )
    if not parts.hostname:
        raise InvalidArgument("url", f"{redact_url(url)!r} has no host")
    if CLOUD_HOSTS.search(parts.hostname.lower()):
        raise Unsupported(
            f"cloud-drive share links ({parts.hostname}) are not supported: "
            "resolve them to a direct link first"
        )
    path = parts.path.lower()
    if path.endswith(".torrent"):
        return Link(LinkKind.TORRENT, url)
    if path.endswith(".nzb"):
        return Link(LinkKind.NZB, url)
    return Link(LinkKind.DIRECT, url)


def _magnet(url: str, query: str) -> Link:
    topics = parse_qs(query).get("xt", [])
    for topic in topics:
        if _BTIH.match(topic) or _BTMH.match(topic):
            return Link(LinkKind.MAGNET, url, info_hash=topic.split(":")[-1].lower())
    raise InvalidArgument("url", "magnet link has no valid xt=urn:btih:… or urn:btmh:… topic")


def _local(path: str) -> Link:
    suffix = Path(path).suffix.lower()
    if suffix == ".torrent":
        return Link(LinkKind.TORRENT, path, local=True)
    if suffix == ".nzb":
        return Link(LinkKind.NZB, path, local=True)
    raise Unsupported(f"local files can only be .torrent or .nzb, not {Path(path).name!r}")
