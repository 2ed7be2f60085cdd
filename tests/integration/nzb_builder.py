"""Posting a file to the test NNTP server, and the .nzb that finds it again (served or saved)."""

from __future__ import annotations

import uuid
import zlib
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree

from hauler.downloads.links import Link, classify
from hauler.downloads.nzb import NAMESPACE, Nzb, NzbFile, Segment
from tests.integration.http_server import LoopbackServer, Resource
from tests.integration.nntp_server import Article, NntpServer
from tests.integration.yenc import encode_part

GROUP = "alt.binaries.hauler.test"
POSTER = "hauler-test <test@hauler.invalid>"
DATE = 1_700_000_000
SEGMENT = 192 * 1024  # bytes of data per article
DOCTYPE = (
    b'<!DOCTYPE nzb PUBLIC "-//newzBin//DTD NZB 1.1//EN" '
    b'"http://www.newzbin.com/DTD/nzb/nzb-1.1.dtd">\n'
)


@dataclass(frozen=True)
class Posted:
    """A file posted as articles, and its NZB."""

    nzb: Nzb
    xml: bytes

    @property
    def message_ids(self) -> list[str]:
        return [s.message_id for f in self.nzb.files for s in f.segments]


def split(body: bytes, name: str, segment: int = SEGMENT) -> list[tuple[Segment, bytes]]:
    """Cut ``body`` into yEnc articles: (segment entry, article body) pairs."""
    pieces = [body[i : i + segment] for i in range(0, len(body), segment)] or [b""]
    crc = zlib.crc32(body)
    articles = []
    for number, piece in enumerate(pieces, start=1):
        begin = (number - 1) * segment
        text = encode_part(
            piece,
            name=name,
            number=number,
            total=len(pieces),
            begin=begin,
            file_size=len(body),
            file_crc=crc,
        )
        message_id = f"{uuid.uuid4().hex}.{number}@hauler.test"
        articles.append((Segment(number, len(text), message_id), text))
    return articles


def post(server: NntpServer, body: bytes, name: str, segment: int = SEGMENT) -> Posted:
    """Post ``body`` as a file called ``name``; return its NZB (parsed and as XML)."""
    articles = split(body, name, segment)
    total = len(articles)
    for entry, text in articles:
        server.post(entry.message_id, Article(GROUP, _subject(name, entry.number, total), text))
    segments = tuple(entry for entry, _ in articles)
    posted = NzbFile(_subject(name, 1, total), POSTER, DATE, (GROUP,), segments)
    nzb = Nzb(files=(posted,), meta=(("title", name),))
    return Posted(nzb, render(nzb))


def publish(news: NntpServer, site: LoopbackServer, body: bytes, name: str) -> tuple[Link, Posted]:
    """Post ``body`` as ``name`` and offer its .nzb at a loopback URL: the link and the NZB."""
    posted = post(news, body, name)
    path = f"/nzb/{posted.message_ids[0].split('@')[0]}.nzb"
    site.resources[path] = Resource(posted.xml)
    return classify(site.url(path)), posted


def publish_local(news: NntpServer, folder: Path, body: bytes, name: str) -> tuple[Link, Posted]:
    """Post ``body`` as ``name`` and save its .nzb in ``folder``: the local link and the NZB."""
    posted = post(news, body, name)
    path = folder / f"{posted.message_ids[0].split('@')[0]}.nzb"
    path.write_bytes(posted.xml)
    return classify(str(path)), posted


def render(nzb: Nzb) -> bytes:
    """The XML of ``nzb`` as newzbin's NZB 1.1 DTD lays it out."""
    root = ElementTree.Element("nzb", xmlns=NAMESPACE)
    if nzb.meta:
        head = ElementTree.SubElement(root, "head")
        for kind, value in nzb.meta:
            ElementTree.SubElement(head, "meta", type=kind).text = value
    for posted in nzb.files:
        element = ElementTree.SubElement(
            root, "file", poster=posted.poster, date=str(posted.date), subject=posted.subject
        )
        groups = ElementTree.SubElement(element, "groups")
        for group in posted.groups:
            ElementTree.SubElement(groups, "group").text = group
        segments = ElementTree.SubElement(element, "segments")
        for segment in posted.segments:
            ElementTree.SubElement(
                segments, "segment", bytes=str(segment.bytes), number=str(segment.number)
            ).text = segment.message_id
    body = ElementTree.tostring(root, encoding="unicode").encode()
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + DOCTYPE + body + b"\n"


def _subject(name: str, number: int, total: int) -> str:
    return f'hauler test - "{name}" yEnc ({number}/{total})'
