"""yEnc, the encoding of binary Usenet articles: encode a file's parts, decode them again.

An encoded part is ``=ybegin`` (part, total, line, size, name), ``=ypart`` (1-based
inclusive byte range), the data lines, and ``=yend`` with the part's size and CRC-32
(``pcrc32``) and the whole file's CRC-32 (``crc32``).
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass

LINE = 128
_SHIFT = bytes((b + 42) % 256 for b in range(256))
_UNSHIFT = bytes((b - 42) % 256 for b in range(256))
_CRITICAL = re.compile(rb"[\x00\n\r=]")
_EDGE = {9, 32}  # tab and space are escaped at either end of a line
_KEYWORDS = re.compile(rb"(\w+)=(\S+)")
_CONTROL = (b"=ybegin ", b"=ypart ", b"=yend ")


class YencError(ValueError):
    """Raised when a part cannot be decoded or its CRC does not match."""


@dataclass(frozen=True)
class Part:
    """A decoded part: where it goes in the file and its bytes."""

    name: str
    number: int
    total: int
    file_size: int
    begin: int  # 0-based offset into the file
    data: bytes


def encode_part(
    data: bytes, *, name: str, number: int, total: int, begin: int, file_size: int, file_crc: int
) -> bytes:
    """The yEnc text of one part: ``data`` lies at 0-based ``begin`` in the file."""
    lines = [
        f"=ybegin part={number} total={total} line={LINE} size={file_size} name={name}".encode(),
        f"=ypart begin={begin + 1} end={begin + len(data)}".encode(),
    ]
    shifted = data.translate(_SHIFT)
    lines.extend(_escape_line(shifted[i : i + LINE]) for i in range(0, len(shifted), LINE))
    lines.append(
        f"=yend size={len(data)} part={number} pcrc32={zlib.crc32(data):08x} "
        f"crc32={file_crc:08x}".encode()
    )
    return b"\r\n".join(lines) + b"\r\n"


def decode_part(text: bytes) -> Part:
    """Decode one part, checking its size and ``pcrc32``.

    Raises:
        YencError: headers are missing, or the size or CRC does not match.
    """
    lines = text.replace(b"\r\n", b"\n").split(b"\n")
    header = _keywords(lines, b"=ybegin ")
    part = _keywords(lines, b"=ypart ")
    trailer = _keywords(lines, b"=yend ")
    body = [line for line in lines if line and not line.startswith(_CONTROL)]
    data = b"".join(_unescape_line(line) for line in body).translate(_UNSHIFT)
    if len(data) != int(trailer.get("size", -1)):
        raise YencError(f"part has {len(data)} bytes, its trailer says {trailer.get('size')}")
    if "pcrc32" in trailer and zlib.crc32(data) != int(trailer["pcrc32"], 16):
        raise YencError("part CRC-32 does not match its pcrc32")
    name = text.split(b" name=", 1)[1].split(b"\n", 1)[0].strip().decode(errors="replace")
    return Part(
        name=name,
        number=int(header.get("part", 1)),
        total=int(header.get("total", 1)),
        file_size=int(header["size"]),
        begin=int(part.get("begin", 1)) - 1,
        data=data,
    )


def _escape_line(line: bytes) -> bytes:
    escaped = _CRITICAL.sub(lambda m: b"=" + bytes([(m.group()[0] + 64) % 256]), line)
    if escaped[:1] == b"." or escaped[0] in _EDGE:
        escaped = b"=" + bytes([(escaped[0] + 64) % 256]) + escaped[1:]
    if escaped[-1] in _EDGE and escaped[-2:-1] != b"=":
        escaped = escaped[:-1] + b"=" + bytes([(escaped[-1] + 64) % 256])
    return escaped


def _unescape_line(line: bytes) -> bytes:
    first, *rest = line.split(b"=")
    return first + b"".join(bytes([(piece[0] - 64) % 256]) + piece[1:] for piece in rest if piece)


def _keywords(lines: list[bytes], prefix: bytes) -> dict[str, str]:
    for line in lines:
        if line.startswith(prefix):
            head = line.split(b" name=", 1)[0]
            return {k.decode(): v.decode() for k, v in _KEYWORDS.findall(head)}
    raise YencError(f"no {prefix.decode().strip()} line")
