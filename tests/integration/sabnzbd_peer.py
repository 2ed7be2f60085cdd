"""Running a real SABnzbd for tests: a generated sabnzbd.ini, ``sabnzbdplus``, a clean stop.

SABnzbd (Debian's ``sabnzbdplus`` 3.7) listens on a free loopback port, reads from the
test news server, and keeps its configuration, queue, logs and every download folder
under one root. Nothing reaches outside the machine: no browser, no release check, no
self-test host (so no DNS look-ups and no IPv6 probe), no Bonjour/SSDP, no unpacking or
par2 (the test content needs neither), two tries per article.

``auto_disconnect = 0``: by default SABnzbd drops every news connection whenever its
queue empties. In 3.7 a connection is opened in a thread of its own that registers the
socket with the downloader once connected; a forced disconnect that lands while a
connect is under way closes that socket, the thread then registers the dead descriptor,
and the downloader's ``select`` dies with EBADF ("Restarting because of crashed
downloader"), taking SABnzbd down mid-module. The tests empty the queue after every
job, so keeping the connections open is what keeps SABnzbd up.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from hauler.downloads.clients.sabnzbd import SabnzbdClient
from tests.integration.http_server import free_port
from tests.integration.nntp_server import NntpServer
from tests.integration.services import wait_for

API_KEY = "0123456789abcdef0123456789abcdef"
NZB_KEY = "fedcba9876543210fedcba9876543210"

# Option names as sabnzbd/cfg.py (misc) and sabnzbd/config.py (ConfigServer) spell them.
INI = """\
__version__ = 19
__encoding__ = utf-8
[misc]
host = 127.0.0.1
port = {port}
api_key = {api_key}
nzb_key = {nzb_key}
download_dir = {root}/incomplete
complete_dir = {root}/complete
admin_dir = {root}/admin
log_dir = {root}/logs
nzb_backup_dir = ""
dirscan_dir = ""
auto_browser = 0
check_new_rel = 0
selftest_host = ""
enable_broadcast = 0
ipv6_hosting = 0
ipv6_servers = 0
inet_exposure = 0
html_login = 0
notified_new_skin = 2
max_art_tries = 2
fail_hopeless_jobs = 1
pre_check = 0
enable_unrar = 0
enable_7zip = 0
direct_unpack = 0
enable_par_cleanup = 0
ignore_samples = 0
deobfuscate_final_filenames = 0
no_dupes = 0
backup_for_duplicates = 0
history_retention = ""
auto_disconnect = 0
[logging]
log_level = 1
[servers]
[[hauler-test]]
name = hauler-test
displayname = hauler-test
host = 127.0.0.1
port = {news_port}
username = {news_user}
password = {news_password}
connections = 2
ssl = 0
enable = 1
timeout = 20
[categories]
[[*]]
name = *
order = 0
pp = 0
script = None
dir = ""
priority = 0
"""


@dataclass
class SabnzbdPeer:
    """A running ``sabnzbdplus``: its API URL, its key and its root."""

    url: str
    api_key: str
    root: Path
    process: subprocess.Popen[bytes]

    def client(self, poll_interval: float = 0.1) -> SabnzbdClient:
        return SabnzbdClient(self.url, self.api_key, poll_interval)

    def api(self, mode: str, **params: str) -> dict[str, Any]:
        """One raw API call, for the tests' own look at SABnzbd."""
        query = {"mode": mode, "output": "json", "apikey": self.api_key, **params}
        response = requests.get(self.url, params=query, timeout=10)
        response.raise_for_status()
        answer: dict[str, Any] = response.json()
        return answer

    def version(self) -> str:
        try:
            return str(self.api("version").get("version", ""))
        except (requests.RequestException, ValueError):
            return ""

    def log(self) -> str:
        path = self.root / "logs" / "sabnzbd.log"
        return path.read_text(errors="replace")[-6000:] if path.exists() else ""

    def stop(self) -> None:
        """``mode=shutdown`` (SABnzbd saves its queue and exits), SIGKILL if it hangs."""
        if self.process.poll() is None:
            with contextlib.suppress(requests.RequestException, ValueError):
                self.api("shutdown")
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=15)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=5)


def start_sabnzbd(binary: str, root: Path, news: NntpServer) -> SabnzbdPeer:
    """Start SABnzbd under ``root`` reading from ``news``; return once ``mode=version`` answers."""
    port = free_port()
    ini = root / "sabnzbd.ini"
    ini.write_text(
        INI.format(
            root=root,
            port=port,
            api_key=API_KEY,
            nzb_key=NZB_KEY,
            news_port=news.port,
            news_user=news.username,
            news_password=news.password,
        )
    )
    with (root / "stdout.log").open("wb") as out:
        process = subprocess.Popen(
            [binary, "-f", str(ini), "-s", f"127.0.0.1:{port}", "-b", "0", "--new"],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env={**os.environ, "HOME": str(root)},
        )
    peer = SabnzbdPeer(f"http://127.0.0.1:{port}/api", API_KEY, root, process)
    try:
        wait_for(lambda: process.poll() is not None or peer.version(), timeout=30)
    except AssertionError:
        peer.stop()
        raise
    if process.poll() is not None:
        output = (root / "stdout.log").read_text(errors="replace")
        raise RuntimeError(f"sabnzbdplus exited:\n{output}")
    return peer
