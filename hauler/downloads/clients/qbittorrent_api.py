"""qBittorrent's Web API v2: a cookie session that logs in first and again after a 403."""

from __future__ import annotations

from typing import Any

import requests

from hauler.downloads.clients.base import ClientUnavailable
from hauler.errors import CredentialsRefused
from hauler.httpstatus import retryable_status
from hauler.redact import redact_url

CREDENTIAL_SETTINGS = (
    "HAULER_DOWNLOADS_QBITTORRENT_USERNAME and HAULER_DOWNLOADS_QBITTORRENT_PASSWORD"
)


class LoginRejected(CredentialsRefused):
    """Raised when qBittorrent refuses the Web UI credentials or has banned this address."""


# Credentials qBittorrent refused, by (url, username, password), with its reason, for the
# life of this process: qBittorrent bans an address after a few failed logins (5 by
# default, for an hour), and a health check runs before every download. A worker
# restarted with corrected settings tries again.
_refused: dict[tuple[str, str, str], str] = {}


class QbittorrentApi:
    """Calls ``/api/v2/…`` with the session cookie (``SID``) that ``auth/login`` sets."""

    def __init__(self, url: str, username: str, password: str, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self.shown = redact_url(self.url)  # the Web UI as messages show it
        self.username = username
        self.password = password
        self.timeout = timeout
        self.session = requests.Session()
        self._logged_in = False

    def login(self) -> None:
        """Log in and keep the cookie.

        Raises:
            LoginRejected: wrong credentials, or this address is banned for failing too often.
            ClientUnavailable: qBittorrent cannot be reached.
        """
        self._logged_in = False
        key = (self.url, self.username, self.password)
        if key in _refused:
            raise LoginRejected(_refused[key])
        credentials = {"username": self.username, "password": self.password}
        response = self._send("POST", "auth/login", data=credentials)
        if response.status_code == 403:
            _refused[key] = (
                f"qBittorrent at {self.shown} has banned this address after too many failed "
                f"logins: check {CREDENTIAL_SETTINGS}, wait for the ban to end, restart"
            )
        elif response.status_code != 200 or response.text.strip() != "Ok.":
            _refused[key] = (
                f"qBittorrent at {self.shown} refused user {self.username!r}: set "
                f"{CREDENTIAL_SETTINGS} to its Web UI credentials and restart"
            )
        if key in _refused:
            raise LoginRejected(_refused[key])
        self._logged_in = True

    def get(self, path: str, **params: str) -> Any:
        """The JSON answer of ``GET /api/v2/<path>?params``."""
        response = self.request("GET", path, params=params)
        if response.status_code != 200:
            raise ClientUnavailable(f"qBittorrent {path}: HTTP {response.status_code}")
        return response.json()

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """Send a request, logging in first and once more if qBittorrent answers 403.

        Raises:
            ClientUnavailable: qBittorrent cannot be reached, or answers 408/425/429/5xx.
            LoginRejected: see ``login``.
        """
        if not self._logged_in:
            self.login()
        response = self._send(method, path, **kwargs)
        if response.status_code == 403:  # the session expired or qBittorrent restarted
            self.login()
            response = self._send(method, path, **kwargs)
        if retryable_status(response.status_code):
            raise ClientUnavailable(f"qBittorrent {path}: HTTP {response.status_code}")
        return response

    def _send(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        try:
            return self.session.request(
                method, f"{self.url}/api/v2/{path}", timeout=self.timeout, **kwargs
            )
        except requests.exceptions.RequestException as exc:
            raise ClientUnavailable(
                f"qBittorrent at {self.shown} does not answer ({exc.__class__.__name__})"
            ) from None
