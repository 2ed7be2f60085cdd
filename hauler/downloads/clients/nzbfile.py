"""Reading an .nzb link's bytes for a Usenet client: a local file or a size-capped GET."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urljoin

import requests

from hauler.downloads.clients.base import ClientUnavailable
from hauler.downloads.links import Link
from hauler.downloads.safety import check_address
from hauler.errors import PermanentError
from hauler.httpstatus import request_error, status_error
from hauler.redact import redact_text, redact_url

MAX_NZB_BYTES = 64 * 1024 * 1024  # an index this large is not an .nzb
MAX_REDIRECTS = 5
HEADERS = {"User-Agent": "hauler/0.1"}


def read_nzb(link: Link, timeout: float = 30.0, allow: Sequence[str] = ()) -> bytes:
    """The bytes of the .nzb ``link`` names.

    Args:
        link: a local .nzb path or an http(s) URL of one.
        timeout: seconds to connect and between bytes.
        allow: networks or hosts a redirect may lead to although not public (the first
            address was checked by the caller).

    Raises:
        PermanentError: the file is missing, too large, or the server says 4xx.
        ClientUnavailable: the server cannot be reached or answers 5xx.
    """
    if link.local:
        return _read_local(Path(link.url))
    url = link.url
    for hop in range(MAX_REDIRECTS + 1):
        if hop:
            check_address(url, allow)
        response = _get(url, timeout)
        if response.is_redirect:
            response.close()
            url = urljoin(url, response.headers["Location"])
            continue
        return _body(response, url)
    raise PermanentError(f"{link.shown}: more than {MAX_REDIRECTS} redirects")


def _read_local(path: Path) -> bytes:
    try:
        if path.stat().st_size > MAX_NZB_BYTES:
            raise PermanentError(f"{path} is larger than {MAX_NZB_BYTES} bytes; not an .nzb")
        return path.read_bytes()
    except (FileNotFoundError, IsADirectoryError, PermissionError) as exc:
        raise PermanentError(f"cannot read {path}: {exc.strerror}") from None


def _get(url: str, timeout: float) -> requests.Response:
    try:
        return requests.get(
            url, timeout=timeout, stream=True, allow_redirects=False, headers=HEADERS
        )
    except requests.exceptions.RequestException as exc:
        text = redact_text(f"{url}: {exc.__class__.__name__}: {exc}")
        raise request_error(exc, text, retryable=ClientUnavailable) from None


def _body(response: requests.Response, url: str) -> bytes:
    with response:
        text = f"{redact_url(url)}: HTTP {response.status_code} {response.reason}"
        error = status_error(response.status_code, text, retryable=ClientUnavailable)
        if error is not None:
            raise error
        content = bytearray()
        for chunk in response.iter_content(chunk_size=256 * 1024):
            content.extend(chunk)
            if len(content) > MAX_NZB_BYTES:
                raise PermanentError(
                    f"{redact_url(url)} is larger than {MAX_NZB_BYTES} bytes; not an .nzb"
                )
        return bytes(content)
