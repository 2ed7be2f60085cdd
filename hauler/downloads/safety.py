"""Safety on untrusted input: file names that stay inside the root, and no SSRF."""

from __future__ import annotations

import ipaddress
import re
import socket
import unicodedata
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import unquote, urlsplit

from hauler.errors import InvalidArgument, PermanentError
from hauler.paths import check_path_text, shown

_UNSAFE = re.compile(r"[\x00-\x1f\x7f/\\:*?\"<>|]")
_RESERVED = {"", ".", ".."}
MAX_NAME = 200
#: Unicode categories dropped from names: format characters (bidi controls such as
#: U+202E, zero-width joiners) and lone surrogates; control characters become ``_``.
_DROPPED_CATEGORIES = frozenset({"Cf", "Cs"})


class Forbidden(PermanentError):
    """Raised when a URL resolves to an address downloads may not reach (SSRF guard)."""


def safe_name(raw: str, fallback: str = "download") -> str:
    """A file name made from untrusted text: no directories, traversal or control characters.

    Keeps the last path segment, drops Unicode format characters (bidi controls such as
    U+202E) and lone surrogates, replaces control and reserved characters with ``_``,
    removes leading dots and trailing spaces, and caps the length at 200 characters
    (keeping the extension).
    """
    text = unicodedata.normalize("NFC", unquote(raw or ""))
    text = "".join(ch for ch in text if unicodedata.category(ch) not in _DROPPED_CATEGORIES)
    text = text.replace("\\", "/").rsplit("/", 1)[-1]
    text = _UNSAFE.sub("_", text).strip().lstrip(".").strip()
    if text in _RESERVED:
        return fallback
    if len(text) > MAX_NAME:
        stem, dot, ext = text.rpartition(".")
        text = (
            (stem[: MAX_NAME - len(ext) - 1] + dot + ext)
            if dot and len(ext) < 16
            else text[:MAX_NAME]
        )
    return text


def name_from_url(url: str) -> str:
    """The file name a URL suggests (its last path segment), made safe."""
    return safe_name(urlsplit(url).path, fallback="download")


def inside(root: Path, *parts: str) -> Path:
    """``root / parts`` resolved, guaranteed to lie inside ``root``.

    Raises:
        InvalidArgument: a part cannot name a file (a NUL byte, a lone surrogate, too
            long) or the result would escape ``root``.
    """
    for part in parts:
        check_path_text(part, "dest", what="a directory")
    base = root.resolve()
    try:
        target = base.joinpath(*parts).resolve()
    except (OSError, RuntimeError) as exc:
        raise InvalidArgument(
            "dest", f"cannot be resolved ({getattr(exc, 'strerror', None) or exc})"
        ) from None
    if target != base and not target.is_relative_to(base):
        raise InvalidArgument("dest", f"{shown('/'.join(parts))} escapes the download root {base}")
    return target


def check_address(
    url: str,
    allow: Sequence[str],
    *,
    who: str = "downloads",
    setting: str = "HAULER_DOWNLOADS_ALLOW_NETWORKS",
    argument: str = "url",
) -> None:
    """Refuse URLs whose host resolves to loopback, link-local, private or reserved addresses.

    Args:
        url: the URL about to be fetched (or sent to).
        allow: networks (CIDR) or host names that are allowed anyway.
        who: what is refused, for the message ("downloads", "uploads").
        setting: the variable that holds ``allow``, named in the message.
        argument: the task argument ``url`` came from, named when it does not resolve.

    Raises:
        Forbidden: an address of the host is not public and not allow-listed.
        InvalidArgument: the host does not resolve.
    """
    host = urlsplit(url).hostname or ""
    if host in allow:
        return
    networks = [ipaddress.ip_network(entry, strict=False) for entry in allow if _is_network(entry)]
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except socket.gaierror as exc:
        raise InvalidArgument(
            argument, f"host {host!r} does not resolve ({exc.strerror})"
        ) from None
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if any(address in network for network in networks):
            continue
        if not address.is_global or address.is_multicast:
            raise Forbidden(
                f"{host} resolves to {address}, a non-public address; {who} may not reach it "
                f"(allow it with {setting})"
            )


def _is_network(entry: str) -> bool:
    try:
        ipaddress.ip_network(entry, strict=False)
    except ValueError:
        return False
    return True
