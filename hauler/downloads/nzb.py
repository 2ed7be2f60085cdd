"""NZB files: parse the XML index of a Usenet download and estimate what it will weigh.

An NZB lists files; each file lists the articles (segments) that carry it, by message-id,
with the article's size in ``bytes``. Those sizes are of the yEnc-encoded articles, a few
per cent more than the data they carry, so :func:`least_size` gives a lower bound.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from xml.etree import ElementTree

from hauler.errors import PermanentError

NAMESPACE = "http://www.newzbin.com/DTD/2003/nzb"
YENC_SHRINK = 0.95  # decoded bytes per encoded byte, rounded down (yEnc adds ~2-4 %)
_QUOTED_NAME = re.compile(r'"([^"]+)"')


class BadNzb(PermanentError):
    """Raised when an .nzb is not well-formed XML or lists no articles."""


@dataclass(frozen=True)
class Segment:
    """One article of a file."""

    number: int  # 1-based part number
    bytes: int  # size of the article as posted
    message_id: str  # without angle brackets


@dataclass(frozen=True)
class NzbFile:
    """One posted file: its subject line and its articles in part order."""

    subject: str
    poster: str
    date: int
    groups: tuple[str, ...]
    segments: tuple[Segment, ...]

    @property
    def name(self) -> str:
        """The file name the subject quotes (``"name.bin" yEnc (1/3)``), else the subject."""
        match = _QUOTED_NAME.search(self.subject)
        return match.group(1) if match else self.subject

    @property
    def bytes(self) -> int:
        return sum(segment.bytes for segment in self.segments)


@dataclass(frozen=True)
class Nzb:
    """A parsed .nzb."""

    files: tuple[NzbFile, ...]
    meta: tuple[tuple[str, str], ...] = ()

    @property
    def bytes(self) -> int:
        """The posted size of every article together."""
        return sum(f.bytes for f in self.files)


def parse(content: bytes) -> Nzb:
    """Parse the bytes of an .nzb.

    Raises:
        BadNzb: not XML, declares entities, or has no file with segments.
    """
    if b"<!ENTITY" in content:
        raise BadNzb("the .nzb declares XML entities; refusing it")
    try:
        root = ElementTree.fromstring(content)
    except ElementTree.ParseError as exc:
        raise BadNzb(f"the .nzb is not well-formed XML: {exc}") from None
    if _local(root.tag) != "nzb":
        raise BadNzb(f"the root element is <{_local(root.tag)}>, not <nzb>")
    files = tuple(_file(element) for element in root if _local(element.tag) == "file")
    if not files or not any(f.segments for f in files):
        raise BadNzb("the .nzb lists no articles")
    meta = tuple(
        (item.get("type", ""), (item.text or "").strip())
        for head in root
        if _local(head.tag) == "head"
        for item in head
    )
    return Nzb(files, meta)


def least_size(nzb: Nzb) -> int:
    """A lower bound of the decoded size: the posted size less yEnc's overhead."""
    return int(nzb.bytes * YENC_SHRINK)


def _file(element: ElementTree.Element) -> NzbFile:
    groups: list[str] = []
    segments: list[Segment] = []
    for child in element:
        if _local(child.tag) == "groups":
            groups.extend((g.text or "").strip() for g in child)
        elif _local(child.tag) == "segments":
            segments.extend(_segment(s) for s in child)
    return NzbFile(
        subject=element.get("subject", ""),
        poster=element.get("poster", ""),
        date=_int(element.get("date"), "date"),
        groups=tuple(groups),
        segments=tuple(sorted(segments, key=lambda s: s.number)),
    )


def _segment(element: ElementTree.Element) -> Segment:
    message_id = (element.text or "").strip().strip("<>")
    if not message_id:
        raise BadNzb("a segment has no message-id")
    return Segment(
        number=_int(element.get("number"), "number"),
        bytes=_int(element.get("bytes"), "bytes"),
        message_id=message_id,
    )


def _int(value: str | None, what: str) -> int:
    try:
        return int(value or 0)
    except ValueError:
        raise BadNzb(f"{what}={value!r} is not a whole number") from None


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]
