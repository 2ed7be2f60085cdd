"""Hosts as network namespaces: a server and workers on 198.18.0.0/24, no route out.

The server namespace holds a bridge (198.18.0.1); each other host is joined to it by a
veth pair (198.18.0.1x) and can be cut off with ``cut(host)`` (its link set down). The
test's own process stays in the root namespace and reaches the servers through their
Unix sockets (a Unix socket is a file, not bound to a network namespace); every Hauler
process under test runs in a namespace with ``ip netns exec`` and talks TCP.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from tests.integration.services import missing

SERVER_ADDRESS = "198.18.0.1"  # RFC 2544 benchmarking range: never routed anywhere


def _ip(*args: str) -> None:
    done = subprocess.run(["ip", *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {done.stderr.strip()}")


@dataclass
class Hosts:
    """A server namespace and worker namespaces named ``hauler-compose-<tag>-<host>``."""

    workers: tuple[str, ...]
    tag: str = field(default_factory=lambda: secrets.token_hex(2))
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.links: dict[str, str] = {}  # host → its end of the veth pair
        self.addresses = {"srv": SERVER_ADDRESS}
        self.addresses |= {h: f"198.18.0.{11 + i}" for i, h in enumerate(self.workers)}

    def ns(self, host: str) -> str:
        return f"hauler-compose-{self.tag}-{host}"

    def create(self) -> Hosts:
        if shutil.which("ip") is None:
            missing("program 'ip' (iproute2)")
        try:
            _ip("netns", "add", self.ns("srv"))
        except RuntimeError as exc:
            missing(f"network namespaces ({exc})")
        srv = self.ns("srv")
        _ip("-n", srv, "link", "set", "lo", "up")
        _ip("-n", srv, "link", "add", "br0", "type", "bridge")
        _ip("-n", srv, "addr", "add", f"{SERVER_ADDRESS}/24", "dev", "br0")
        _ip("-n", srv, "link", "set", "br0", "up")
        for host in self.workers:
            ns, here, there = self.ns(host), f"hc{self.tag}{host}", f"hc{self.tag}{host}s"
            _ip("netns", "add", ns)
            _ip("-n", ns, "link", "set", "lo", "up")
            _ip("link", "add", here, "netns", ns, "type", "veth", "peer", there, "netns", srv)
            _ip("-n", srv, "link", "set", there, "master", "br0", "up")
            _ip("-n", ns, "addr", "add", f"{self.addresses[host]}/24", "dev", here)
            _ip("-n", ns, "link", "set", here, "up")
            self.links[host] = here
        return self

    def spawn(
        self, host: str, argv: list[str], env: Mapping[str, str], log: Path, **kwargs: object
    ) -> subprocess.Popen[bytes]:
        """``argv`` run inside ``host``'s namespace, output to ``log``."""
        with log.open("ab") as out:
            process = subprocess.Popen(
                ["ip", "netns", "exec", self.ns(host), *argv],
                env=dict(env),
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                **kwargs,  # type: ignore[call-overload]
            )
        self.processes.append(process)
        return process

    def run(self, host: str, argv: list[str], env: Mapping[str, str], timeout: float = 120):
        """``argv`` run to completion inside ``host``'s namespace."""
        return subprocess.run(
            ["ip", "netns", "exec", self.ns(host), *argv],
            env=dict(env),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def cut(self, host: str) -> None:
        """Take ``host``'s link down: it can no longer reach anyone, nor anyone it."""
        _ip("-n", self.ns(host), "link", "set", self.links[host], "down")

    def destroy(self) -> None:
        """Stop every process started here (warm, then hard), delete the namespaces."""
        for process in self.processes:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=5)  # a cut-off host's worker never finishes its task
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
        for host in ("srv", *self.workers):
            subprocess.run(["ip", "netns", "delete", self.ns(host)], check=False)
