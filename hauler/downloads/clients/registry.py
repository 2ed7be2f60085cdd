"""The clients this deployment has, as a table: in-process HTTP always, the others when set."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from hauler.downloads.clients.base import DownloadClient, HandOffClient, hands_off
from hauler.downloads.settings import DownloadSettings
from hauler.redact import register_secret
from hauler.settings import Settings

Build = Callable[[DownloadSettings, Path], DownloadClient]


def _http(config: DownloadSettings, staging: Path) -> DownloadClient:
    from hauler.downloads.clients.http import HttpClient

    return HttpClient(allow=config.allow_networks, timeout=config.http_timeout)


def _aria2(config: DownloadSettings, staging: Path) -> DownloadClient:
    from hauler.downloads.clients.aria2 import Aria2Client

    return Aria2Client(
        config.aria2_url,
        config.aria2_secret,
        config.poll_interval,
        connections=config.aria2_connections,
        staging_dir=staging,
    )


def _qbittorrent(config: DownloadSettings, staging: Path) -> DownloadClient:
    from hauler.downloads.clients.qbittorrent import QbittorrentClient

    user, password = config.qbittorrent_username, config.qbittorrent_password
    return QbittorrentClient(config.qbittorrent_url, user, password, config.poll_interval)


def _nzbget(config: DownloadSettings, staging: Path) -> DownloadClient:
    from hauler.downloads.clients.nzbget import NzbgetClient

    return NzbgetClient(
        config.nzbget_url,
        config.poll_interval,
        category=config.nzbget_category,
        allow=config.allow_networks,
    )


def _sabnzbd(config: DownloadSettings, staging: Path) -> DownloadClient:
    from hauler.downloads.clients.sabnzbd import SabnzbdClient

    return SabnzbdClient(
        config.sabnzbd_url,
        config.sabnzbd_api_key,
        config.poll_interval,
        category=config.sabnzbd_category,
        allow=config.allow_networks,
    )


@dataclass(frozen=True)
class Kind:
    """One kind of client: its name, whether the settings configure it, how to build it."""

    name: str
    configured: Callable[[DownloadSettings], bool]
    build: Build


#: Every client Hauler knows, in the order ties are broken (in-process HTTP first).
CLIENTS: tuple[Kind, ...] = (
    Kind("http", lambda c: True, _http),
    Kind("aria2", lambda c: bool(c.aria2_url), _aria2),
    Kind("qbittorrent", lambda c: bool(c.qbittorrent_url), _qbittorrent),
    Kind("nzbget", lambda c: bool(c.nzbget_url), _nzbget),
    Kind("sabnzbd", lambda c: bool(c.sabnzbd_url), _sabnzbd),
)


def configured_clients(settings: Settings) -> list[DownloadClient]:
    """Every client whose endpoint is set, in-process HTTP first.

    Built once per process and kept: sessions, logins (qBittorrent's cookie, and its
    memory of refused credentials) and connections serve every download after the first.
    The clients' secrets are registered with :mod:`hauler.redact` first, so no error,
    result or log line of this process shows them.
    """
    return list(_clients(settings.downloads, settings.staging_dir.resolve()))


def hand_off_clients(settings: Settings) -> dict[str, HandOffClient]:
    """The configured external clients (the ones the watch reads), by name."""
    return {c.name: c for c in configured_clients(settings) if hands_off(c)}


@lru_cache(maxsize=4)
def _clients(config: DownloadSettings, staging: Path) -> tuple[DownloadClient, ...]:
    register_secret(*config.secrets())
    return tuple(kind.build(config, staging) for kind in CLIENTS if kind.configured(config))
