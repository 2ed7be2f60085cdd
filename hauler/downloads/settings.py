"""Settings of the downloads queue (``HAULER_DOWNLOADS_…``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Self
from urllib.parse import unquote, urlsplit

from hauler.env import EnvReader


@dataclass(frozen=True)
class DownloadSettings:
    """Where the download clients are and what downloads may reach."""

    allow_networks: tuple[str, ...] = ()  # CIDRs or host names exempt from the SSRF guard
    input_roots: tuple[Path, ...] = ()  # local .torrent/.nzb must lie under; () = data dir
    http_timeout: float = 30.0  # seconds to connect / between bytes
    poll_interval: float = 1.0  # seconds between status polls of external clients
    aria2_url: str = ""  # aria2 JSON-RPC endpoint, e.g. http://127.0.0.1:6800/jsonrpc
    aria2_secret: str = ""  # aria2 --rpc-secret
    aria2_connections: int = 8  # connections per direct download through aria2 (split)
    qbittorrent_url: str = ""  # qBittorrent Web UI, e.g. http://127.0.0.1:8080
    qbittorrent_username: str = "admin"  # Web UI user
    qbittorrent_password: str = ""  # Web UI password
    nzbget_url: str = ""  # NZBGet JSON-RPC, e.g. http://user:pass@127.0.0.1:6789/jsonrpc
    nzbget_category: str = ""  # NZBGet category for Hauler's jobs ("" = none)
    sabnzbd_url: str = ""  # SABnzbd API, e.g. http://127.0.0.1:8085/api
    sabnzbd_api_key: str = ""  # SABnzbd API key
    sabnzbd_category: str = ""  # SABnzbd category for Hauler's jobs ("" = default)

    def secrets(self) -> tuple[str, ...]:
        """The configured secrets: aria2's token, the qBittorrent and NZBGet passwords, the
        SABnzbd API key (to be masked wherever they would appear)."""
        nzbget_password = unquote(urlsplit(self.nzbget_url).password or "")
        return tuple(
            s
            for s in (
                self.aria2_secret,
                self.qbittorrent_password,
                nzbget_password,
                self.sabnzbd_api_key,
            )
            if s
        )

    @classmethod
    def from_env(cls, reader: EnvReader) -> Self:
        allow = reader.text("HAULER_DOWNLOADS_ALLOW_NETWORKS", "")
        roots = reader.text("HAULER_DOWNLOADS_INPUT_ROOTS", "")
        return cls(
            allow_networks=tuple(a.strip() for a in allow.split(",") if a.strip()),
            input_roots=tuple(Path(r).expanduser().resolve() for r in roots.split(":") if r),
            http_timeout=reader.number("HAULER_DOWNLOADS_HTTP_TIMEOUT", 30.0, minimum=1.0),
            poll_interval=reader.number("HAULER_DOWNLOADS_POLL_INTERVAL", 1.0, minimum=0.1),
            aria2_url=reader.text("HAULER_DOWNLOADS_ARIA2_URL", ""),
            aria2_secret=reader.text("HAULER_DOWNLOADS_ARIA2_SECRET", ""),
            aria2_connections=reader.integer(
                "HAULER_DOWNLOADS_ARIA2_CONNECTIONS", 8, minimum=1, maximum=16
            ),
            qbittorrent_url=reader.text("HAULER_DOWNLOADS_QBITTORRENT_URL", ""),
            qbittorrent_username=reader.text("HAULER_DOWNLOADS_QBITTORRENT_USERNAME", "admin"),
            qbittorrent_password=reader.text("HAULER_DOWNLOADS_QBITTORRENT_PASSWORD", ""),
            nzbget_url=reader.text("HAULER_DOWNLOADS_NZBGET_URL", ""),
            nzbget_category=reader.text("HAULER_DOWNLOADS_NZBGET_CATEGORY", ""),
            sabnzbd_url=reader.text("HAULER_DOWNLOADS_SABNZBD_URL", ""),
            sabnzbd_api_key=reader.text("HAULER_DOWNLOADS_SABNZBD_API_KEY", ""),
            sabnzbd_category=reader.text("HAULER_DOWNLOADS_SABNZBD_CATEGORY", ""),
        )
