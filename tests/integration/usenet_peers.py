"""Pytest fixtures for the Usenet clients: a news server, an indexer, NZBGet, SABnzbd.

Load them with ``pytest_plugins = ("tests.integration.usenet_peers",)``. Each fixture is
module-scoped: one news server and one NZBGet per test module, shared by its tests.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.http_server import LoopbackServer
from tests.integration.nntp_server import NntpServer
from tests.integration.nzbget_peer import NzbgetPeer, start_nzbget
from tests.integration.sabnzbd_peer import SabnzbdPeer, start_sabnzbd
from tests.integration.services import require_binary


@pytest.fixture(scope="module")
def news_server() -> Iterator[NntpServer]:
    """The loopback NNTP server articles are posted to."""
    server = NntpServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def nzb_site() -> Iterator[LoopbackServer]:
    """A loopback web server offering .nzb files: the indexer."""
    server = LoopbackServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def nzbget_peer(
    news_server: NntpServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[NzbgetPeer]:
    """A real NZBGet reading from ``news_server`` (fails in CI, skips elsewhere, if absent)."""
    peer = start_nzbget(require_binary("nzbget"), tmp_path_factory.mktemp("nzbget"), news_server)
    yield peer
    peer.stop()


@pytest.fixture(scope="module")
def sabnzbd_peer(
    news_server: NntpServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SabnzbdPeer]:
    """A real SABnzbd reading from ``news_server`` (fails in CI, skips elsewhere, if absent)."""
    binary = require_binary("sabnzbdplus")
    peer = start_sabnzbd(binary, tmp_path_factory.mktemp("sabnzbd"), news_server)
    yield peer
    peer.stop()
