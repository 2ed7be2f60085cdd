"""The clients this deployment has: in-process HTTP always, the others when configured."""

from __future__ import annotations

from functools import lru_cache

from hauler.downloads.clients.base import DownloadClient
from hauler.downloads.clients.http import HttpClient
from hauler.downloads.settings import DownloadSettings
from hauler.redact import register_secret
from hauler.settings import Settings


def configured_clients(settings: Settings) -> list[DownloadClient]:
    """Every client whose endpoint is set, in-process HTTP first.

    Built once per process and kept: sessions, logins (qBittorrent's cookie, and its
    memory of refused credentials) and connections serve every download after the first.
    The clients' secrets are registered with :mod:`hauler.redact` first, so no error,
    result or log line of this process shows them.
    """
    return list(_clients(settings.downloads))


@lru_cache(maxsize=4)
def _clients(config: DownloadSettings) -> tuple[DownloadClient, ...]:
    register_secret(*config.secrets())
    poll = config.poll_interval
    clients: list[DownloadClient] = [
        HttpClient(allow=config.allow_networks, timeout=config.http_timeout)
    ]
    if config.aria2_url:
        from hauler.downloads.clients.aria2 import Aria2Client

        clients.append(
            Aria2Client(
                config.aria2_url, config.aria2_secret, poll, connections=config.aria2_connections
            )
        )
    if config.qbittorrent_url:
        from hauler.downloads.clients.qbittorrent import QbittorrentClient

        user, password = config.qbittorrent_username, config.qbittorrent_password
        clients.append(QbittorrentClient(config.qbittorrent_url, user, password, poll))
    if config.nzbget_url:
        from hauler.downloads.clients.nzbget import NzbgetClient

        clients.append(
            NzbgetClient(
                config.nzbget_url,
                poll,
                category=config.nzbget_category,
                allow=config.allow_networks,
            )
        )
    if config.sabnzbd_url:
        from hauler.downloads.clients.sabnzbd import SabnzbdClient

        clients.append(
            SabnzbdClient(
                config.sabnzbd_url,
                config.sabnzbd_api_key,
                poll,
                category=config.sabnzbd_category,
                allow=config.allow_networks,
            )
        )
    return tuple(clients)
