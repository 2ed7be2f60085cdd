"""Running a real NZBGet for tests: a generated configuration, ``nzbget -s``, a clean stop.

NZBGet listens on a free loopback port, reads from the test news server, keeps every
folder under one root, and has par check/repair and unpack off (the test content needs
neither) and ``ArticleRetries=0``, so a missing article fails at once.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

from hauler.downloads.clients.nzbget import NzbgetClient
from tests.integration.http_server import free_port
from tests.integration.nntp_server import NntpServer
from tests.integration.services import wait_for

RPC_USER = "hauler"
RPC_PASSWORD = "rpc-secret"

CONF = """\
MainDir={root}
DestDir=${{MainDir}}/complete
InterDir=${{MainDir}}/intermediate
NzbDir=${{MainDir}}/nzb
QueueDir=${{MainDir}}/queue
TempDir=${{MainDir}}/tmp
ScriptDir=${{MainDir}}/scripts
LockFile=${{MainDir}}/nzbget.lock
LogFile=${{MainDir}}/nzbget.log
WebDir=
ConfigTemplate=
Server1.Active=yes
Server1.Name=hauler-test
Server1.Level=0
Server1.Host=127.0.0.1
Server1.Port={news_port}
Server1.Username={news_user}
Server1.Password={news_password}
Server1.Encryption=no
Server1.Connections=2
ControlIP=127.0.0.1
ControlPort={port}
ControlUsername={user}
ControlPassword={password}
UpdateCheck=none
OutputMode=loggable
WriteLog=append
DetailTarget=log
CrashTrace=no
AppendCategoryDir=yes
NzbDirInterval=0
DupeCheck=yes
FlushQueue=no
DiskSpace=0
ArticleRetries=0
ArticleInterval=1
ArticleTimeout=10
UrlRetries=0
ParCheck=manual
ParRepair=no
ParRename=no
RarRename=no
DirectRename=no
Unpack=no
DirectUnpack=no
HealthCheck=delete
"""


@dataclass
class NzbgetPeer:
    """A running ``nzbget -s``: its JSON-RPC URL (credentials included) and its root."""

    url: str
    root: Path
    process: subprocess.Popen[bytes]

    def client(self, poll_interval: float = 0.2) -> NzbgetClient:
        return NzbgetClient(self.url, poll_interval)

    def log(self) -> str:
        path = self.root / "nzbget.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def stop(self) -> None:
        """SIGTERM (NZBGet saves its queue and exits), SIGKILL if it hangs."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=15)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=5)


def start_nzbget(binary: str, root: Path, news: NntpServer) -> NzbgetPeer:
    """Start NZBGet under ``root`` reading from ``news``; return once it answers."""
    port = free_port()
    conf = root / "nzbget.conf"
    conf.write_text(
        CONF.format(
            root=root,
            port=port,
            user=RPC_USER,
            password=RPC_PASSWORD,
            news_port=news.port,
            news_user=news.username,
            news_password=news.password,
        )
    )
    with (root / "stdout.log").open("wb") as out:
        process = subprocess.Popen(
            [binary, "-s", "-c", str(conf)],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    peer = NzbgetPeer(f"http://{RPC_USER}:{RPC_PASSWORD}@127.0.0.1:{port}/jsonrpc", root, process)
    try:
        wait_for(lambda: process.poll() is not None or peer.client().healthy(), timeout=20)
    except AssertionError:
        peer.stop()
        raise
    if process.poll() is not None:
        raise RuntimeError(f"nzbget exited:\n{(root / 'stdout.log').read_text(errors='replace')}")
    return peer
