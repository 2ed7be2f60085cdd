"""Forward a TCP address to a Unix socket: ``python unix_forward.py HOST PORT SOCKET``.

The many-hosts test runs it inside a namespace to expose the Docker engine's socket as
``tcp://198.18.0.1:2375`` (a remote engine), and in-process (``UnixForward``) to give a
host-network container the namespace servers' Unix sockets on 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import socket
import sys
import threading


class UnixForward:
    """Accepts on (host, port) and pipes each connection to the Unix socket ``target``."""

    def __init__(self, host: str, port: int, target: str) -> None:
        self.target = target
        self.listener = socket.create_server((host, port))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                upstream.connect(self.target)
            except OSError:
                client.close()
                continue
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pipe, args=(a, b), daemon=True).start()

    def close(self) -> None:
        self.listener.close()


def _pipe(source: socket.socket, sink: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while chunk := source.recv(65536):
            sink.sendall(chunk)
    with contextlib.suppress(OSError):
        sink.shutdown(socket.SHUT_WR)


if __name__ == "__main__":
    forward = UnixForward(sys.argv[1], int(sys.argv[2]), sys.argv[3])
    threading.Event().wait()
