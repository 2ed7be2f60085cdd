"""The clients this deployment has: in-process HTTP always, the others when configured."""

from __future__ import annotations

from hauler.downloads.clients.base import DownloadClient
from hauler.downloads.clients.http import HttpClient
from hauler.settings import Settings


def configured_clients(settings: Settings) -> list[DownloadClient]:
    """Every client whose endpoint is set, in-process HTTP first."""
    config = settings.downloads
    clients: list[DownloadClient] = [
        HttpClient(allow=config.allow_networks, timeout=config.http_timeout)
    ]
    if config.aria2_url:
        from hauler.downloads.clients.aria2 import Aria2Client

        clients.append(Aria2Client(config.aria2_url, config.aria2_secret, config.poll_interval))
    if config.qbittorrent_url:
        from hauler.downloads.clients.qbittorrent import QbittorrentClient

        clients.append(
            QbittorrentClient(
                config.qbittorrent_url, config.qbittorrent_username,
                config.qbittorrent_password, config.poll_interval,
            )
        )  # fmt: skip
    if config.nzbget_url:
        from hauler.downloads.clients.nzbget import NzbgetClient

        clients.append(NzbgetClient(config.nzbget_url, config.poll_interval))
    if config.sabnzbd_url:
        from hauler.downloads.clients.sabnzbd import SabnzbdClient

        clients.append(SabnzbdClient(config.sabnzbd_url, config.sabnzbd_api_key,
                                     config.poll_interval))  # fmt: skip
    return clients
