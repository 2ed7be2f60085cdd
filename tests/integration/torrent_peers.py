"""Real aria2 and qBittorrent programs for the download tests, on loopback, and ways to seed.

There is no tracker, DHT, PeX or local discovery here, and neither program honours a
magnet's ``x.pe`` peer hint (aria2 1.36, qBittorrent 4.5.2), so peers are introduced
through qBittorrent's ``torrents/addPeers``: an ``Introducer`` keeps telling one
qBittorrent where the other program listens until the test is over.
"""

from __future__ import annotations

import base64
import contextlib
import ctypes
import hashlib
import os
import secrets
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.integration.http_server import free_port
from tests.integration.services import require_binary, wait_for
from tests.integration.torrents import Torrent

SEEDING_STATES = {"uploading", "stalledUP", "queuedUP", "forcedUP"}


@dataclass
class Program:
    """A peer program started in its own process group, with its output in ``log``."""

    process: subprocess.Popen[bytes]
    log: Path

    def alive(self) -> bool:
        return self.process.poll() is None

    def tail(self, size: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-size:] if self.log.exists() else ""

    def stop(self) -> None:
        """SIGTERM to the whole group, SIGKILL if it lingers."""
        for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 10)):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=wait)
                return


def _spawn(argv: list[str], log: Path) -> Program:
    with log.open("ab") as out:
        process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
    return Program(process, log)


def _die_with_parent() -> None:
    """In the child: have Linux send SIGTERM when pytest dies, so no peer outlives a run."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


@dataclass
class Aria2Peer:
    """A running ``aria2c --enable-rpc`` on 127.0.0.1."""

    program: Program
    rpc_port: int
    listen_port: int  # BitTorrent
    secret: str

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.rpc_port}/jsonrpc"

    def call(self, method: str, *params: Any) -> Any:
        """``aria2.<method>`` with the secret; the result (JSON-RPC errors fail the test)."""
        payload = {
            "jsonrpc": "2.0",
            "id": "t",
            "method": f"aria2.{method}",
            "params": [f"token:{self.secret}", *params],
        }
        answer = requests.post(self.url, json=payload, timeout=10).json()
        assert "error" not in answer, answer
        return answer["result"]

    def answers(self) -> bool:
        with contextlib.suppress(requests.RequestException):
            return bool(self.call("getVersion"))
        return False

    def seed(self, data: Path, torrent: Torrent) -> None:
        """Seed ``torrent`` from the file at ``data`` (checked first) until aria2 stops."""
        options = {
            "dir": str(data.parent),
            "check-integrity": "true",
            "seed-ratio": "0.0",
            "seed-time": "600",
        }
        gid = self.call("addTorrent", base64.b64encode(torrent.metainfo).decode(), [], options)
        wait_for(lambda: self.call("tellStatus", gid, ["seeder"])["seeder"] == "true", 20)


def start_aria2(root: Path) -> Aria2Peer:
    """aria2 with RPC on a free port, BitTorrent on another, and no discovery of any kind."""
    rpc_port, listen_port, secret = free_port(), free_port(), secrets.token_hex(8)
    (root / "default").mkdir(parents=True, exist_ok=True)
    argv = [
        require_binary("aria2c"),
        "--enable-rpc",
        f"--rpc-listen-port={rpc_port}",
        f"--rpc-secret={secret}",
        "--rpc-listen-all=false",
        "--enable-dht=false",
        "--enable-dht6=false",
        "--bt-enable-lpd=false",
        "--enable-peer-exchange=false",
        f"--listen-port={listen_port}",
        "--max-concurrent-downloads=100",
        "--disable-ipv6=true",
        "--interface=127.0.0.1",
        "--file-allocation=none",
        f"--dir={root / 'default'}",
        f"--stop-with-process={os.getpid()}",
        "--console-log-level=warn",
        "--summary-interval=0",
        f"--log={root / 'aria2.log'}",
        "--log-level=notice",
    ]
    peer = Aria2Peer(_spawn(argv, root / "aria2.out"), rpc_port, listen_port, secret)
    _await(peer.program, peer.answers, "aria2c")
    return peer


@dataclass
class QbittorrentPeer:
    """A running ``qbittorrent-nox`` whose Web UI needs a real login."""

    program: Program
    webui_port: int
    listen_port: int  # BitTorrent
    username: str
    password: str
    session: requests.Session = field(default_factory=requests.Session)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.webui_port}"

    def answers(self) -> bool:
        with contextlib.suppress(requests.RequestException):
            return requests.get(f"{self.url}/api/v2/app/version", timeout=2).status_code > 0
        return False

    def api(self, path: str, **data: Any) -> requests.Response:
        """POST ``/api/v2/<path>`` as the test's own logged-in session."""
        if "SID" not in self.session.cookies:
            login = {"username": self.username, "password": self.password}
            self.session.post(f"{self.url}/api/v2/auth/login", data=login, timeout=10)
        response = self.session.post(f"{self.url}/api/v2/{path}", timeout=10, **data)
        response.raise_for_status()
        return response

    def torrents(self, **filters: str) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.api("torrents/info", data=filters).json()
        return result

    def seed(self, data: Path, torrent: Torrent, *, check: bool = False) -> None:
        """Seed ``torrent`` from the file at ``data`` (the test wrote it: no check by default)."""
        upload = {"torrents": (f"{torrent.name}.torrent", torrent.metainfo)}
        fields = {"savepath": str(data.parent), "skip_checking": str(not check).lower()}
        self.api("torrents/add", data=fields, files=upload)
        wait_for(
            lambda: any(
                t["state"] in SEEDING_STATES for t in self.torrents(hashes=torrent.info_hash)
            ),
            20,
        )

    def reseed(self, data: Path, torrent: Torrent) -> None:
        """Delete the torrent (keeping its data) and seed it again: a fresh peer list."""
        self.api("torrents/delete", data={"hashes": torrent.info_hash, "deleteFiles": "false"})
        wait_for(lambda: not self.torrents(hashes=torrent.info_hash), 10, 0.05)
        self.seed(data, torrent)

    def add_peer(self, info_hash: str, port: int) -> None:
        self.api("torrents/addPeers", data={"hashes": info_hash, "peers": f"127.0.0.1:{port}"})


def start_qbittorrent(root: Path) -> QbittorrentPeer:
    """qbittorrent-nox with a fresh profile, a real Web UI password and no discovery."""
    binary = require_binary("qbittorrent-nox")
    webui_port, listen_port = free_port(), free_port()
    username, password = "hauler", secrets.token_urlsafe(12)
    config = root / "qBittorrent" / "config"
    config.mkdir(parents=True, exist_ok=True)
    (config / "qBittorrent.conf").write_text(
        qbittorrent_conf(webui_port, listen_port, username, password, root / "default")
    )
    argv = [binary, f"--profile={root}", f"--webui-port={webui_port}"]
    peer = QbittorrentPeer(
        _spawn(argv, root / "qbittorrent.out"), webui_port, listen_port, username, password
    )
    _await(peer.program, peer.answers, "qbittorrent-nox")
    return peer


def qbittorrent_conf(
    webui_port: int, listen_port: int, username: str, password: str, save_path: Path
) -> str:
    """qBittorrent 4.5's configuration: legal notice accepted, everything on 127.0.0.1.

    DHT, PeX, LSD, UPnP/NAT-PMP and peer-country lookups are off, so nothing leaves the
    machine. Peers speak TCP only: aria2 has no uTP, and libtorrent tries uTP first; each
    such attempt cost from seconds to, on the loopback-bound session, every connection.
    """
    return "\n".join(
        [
            "[LegalNotice]",
            "Accepted=true",
            "",
            "[BitTorrent]",
            f"Session\\Port={listen_port}",
            "Session\\BTProtocol=TCP",
            "Session\\InterfaceAddress=127.0.0.1",
            "Session\\DHTEnabled=false",
            "Session\\PeXEnabled=false",
            "Session\\LSDEnabled=false",
            "Session\\QueueingSystemEnabled=false",
            "Session\\TempPathEnabled=false",
            f"Session\\DefaultSavePath={save_path}",
            "",
            "[Network]",
            "PortForwardingEnabled=false",
            "",
            "[Preferences]",
            "Connection\\ResolvePeerCountries=false",
            "General\\Locale=en",
            "WebUI\\Address=127.0.0.1",
            f"WebUI\\Port={webui_port}",
            "WebUI\\UseUPnP=false",
            "WebUI\\LocalHostAuth=true",
            "WebUI\\MaxAuthenticationFailCount=1000",
            f"WebUI\\Username={username}",
            f'WebUI\\Password_PBKDF2="{password_pbkdf2(password)}"',
            "",
        ]
    )


def password_pbkdf2(password: str) -> str:
    """qBittorrent's stored Web UI password: PBKDF2-HMAC-SHA512, 100 000 rounds, 16-byte salt."""
    salt = os.urandom(16)
    key = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, 100_000, 64)
    return f"@ByteArray({base64.b64encode(salt).decode()}:{base64.b64encode(key).decode()})"


def _await(program: Program, ready: Callable[[], bool], name: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if not program.alive() or time.monotonic() > deadline:
            program.stop()
            raise AssertionError(f"{name} did not start:\n{program.tail()}")
        time.sleep(0.1)


class Introducer:
    """Four times a second, in a thread, introduces peers for the torrents it was offered."""

    def __init__(self) -> None:
        self.offered: dict[str, tuple[Path, Torrent]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="introducer", daemon=True)

    def offer(self, data: Path, torrent: Torrent) -> None:
        self.offered[torrent.info_hash] = (data, torrent)

    def introduce(self) -> None:
        raise NotImplementedError

    def _run(self) -> None:
        while not self._stop.wait(0.25):
            with contextlib.suppress(requests.RequestException, AssertionError):
                self.introduce()

    def __enter__(self) -> Introducer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


class QbittorrentFetchesFrom(Introducer):
    """Tells a downloading qBittorrent that the offered torrents' seeder listens on ``port``.

    The client deletes each finished torrent, so every download starts with a fresh peer
    list and the first connection to the (already seeding) peer succeeds.
    """

    def __init__(self, qbittorrent: QbittorrentPeer, port: int) -> None:
        super().__init__()
        self.qbittorrent = qbittorrent
        self.port = port

    def introduce(self) -> None:
        for info_hash in list(self.offered):
            self.qbittorrent.add_peer(info_hash, self.port)


class QbittorrentSeedsTo(Introducer):
    """Makes a seeding qBittorrent connect to aria2 for each transfer aria2 starts.

    aria2 cannot be told of a peer, so the seeder connects to it. libtorrent will not
    connect again to an address it saw as a seed, nor soon to one it just left; so for
    every transfer after a torrent's first (a magnet's real download after its metadata, a
    second download of the same torrent) the seeder gets the torrent afresh.
    """

    def __init__(self, qbittorrent: QbittorrentPeer, aria2: Aria2Peer) -> None:
        super().__init__()
        self.qbittorrent = qbittorrent
        self.aria2 = aria2
        self.served: set[str] = set()  # info hashes aria2 has had a transfer of
        self.running: set[str] = set()  # aria2 GIDs active at the last look

    def introduce(self) -> None:
        active = self.aria2.call("tellActive", ["gid", "infoHash", "connections"])
        running = set()
        for transfer in active:
            info_hash = transfer.get("infoHash", "")
            if info_hash not in self.offered:
                continue
            running.add(transfer["gid"])
            if transfer["gid"] not in self.running and info_hash in self.served:
                self.qbittorrent.reseed(*self.offered[info_hash])
            self.served.add(info_hash)
            if transfer["connections"] == "0":
                self.qbittorrent.add_peer(info_hash, self.aria2.listen_port)
        self.running = running


@pytest.fixture(scope="module")
def aria2_peer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Aria2Peer]:
    """A running aria2 for this test module (fails in CI, skips locally, without aria2c)."""
    peer = start_aria2(tmp_path_factory.mktemp("aria2"))
    yield peer
    peer.program.stop()


@pytest.fixture(scope="module")
def qbittorrent_peer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[QbittorrentPeer]:
    """A running qbittorrent-nox for this test module (fails in CI, skips locally, without)."""
    peer = start_qbittorrent(tmp_path_factory.mktemp("qbittorrent"))
    yield peer
    peer.program.stop()
