"""Where a URL finally leads, followed here with the SSRF guard on every hop.

aria2 and qBittorrent fetch the URLs they are given themselves and follow
redirects on their own, where Hauler cannot check them. So before such a client is
handed a URL, Hauler asks for it with redirects off, follows ``Location`` itself
(checking every hop's addresses, at most ``MAX_REDIRECTS`` hops) and hands the client
the last URL, one that answers without a redirect.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urljoin, urlsplit

import requests

from hauler.downloads.safety import check_address
from hauler.errors import PermanentError
from hauler.httpstatus import request_error
from hauler.redact import redact_text, redact_url

MAX_REDIRECTS = 5
HEADERS = {"User-Agent": "hauler/0.1", "Accept-Encoding": "identity", "Connection": "close"}


def final_url(url: str, allow: Sequence[str], timeout: float = 30.0) -> str:
    """The URL ``url`` leads to after its redirects, every hop checked.

    Only the status line and headers of each hop are read; the body is left unread.
    ``ftp://`` has no redirects: its host is checked and it is returned as given.

    Raises:
        Forbidden: a hop's host resolves to an address downloads may not reach.
        InvalidArgument: a hop's host does not resolve.
        RetryableError: a hop cannot be reached now.
        PermanentError: more than ``MAX_REDIRECTS`` redirects, or a malformed hop.
    """
    for _ in range(MAX_REDIRECTS + 1):
        check_address(url, allow)
        if urlsplit(url).scheme.lower() not in ("http", "https"):
            return url
        location = _redirect_of(url, timeout)
        if location is None:
            return url
        url = urljoin(url, location)
    raise PermanentError(f"{redact_url(url)}: more than {MAX_REDIRECTS} redirects")


def _redirect_of(url: str, timeout: float) -> str | None:
    """The ``Location`` a GET of ``url`` redirects to, or None when it does not redirect."""
    try:
        response = requests.get(
            url, headers=HEADERS, stream=True, allow_redirects=False, timeout=timeout
        )
    except requests.exceptions.RequestException as exc:
        raise request_error(exc, redact_text(f"{url}: {exc.__class__.__name__}: {exc}")) from None
    with response:
        return response.headers["Location"] if response.is_redirect else None
