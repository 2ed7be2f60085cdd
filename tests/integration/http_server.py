"""A loopback HTTP server for download and upload tests: ranges, faults, redirects, uploads."""

from __future__ import annotations

import hashlib
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Resource:
    """A file the server offers and how it misbehaves."""

    body: bytes
    fail_first: int = 0  # answer 500 this many times first
    cut_after: int | None = None  # drop the connection after this many bytes (once)
    disposition: str | None = None  # Content-Disposition header
    status: int = 200  # e.g. 404
    ranges: bool = True  # honour Range requests
    redirect_to: str | None = None
    chunk_delay: float = 0.0  # seconds between 64 KiB chunks
    hits: int = 0

    @property
    def etag(self) -> str:
        return '"' + hashlib.sha256(self.body).hexdigest()[:16] + '"'


@dataclass
class LoopbackServer:
    """Serves ``resources`` on 127.0.0.1:<port>; stores PUT/POST bodies in ``received``."""

    resources: dict[str, Resource] = field(default_factory=dict)
    received: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    range_requests: list[str] = field(default_factory=list)
    fail_uploads: int = 0

    def start(self) -> LoopbackServer:
        handler = _handler(self)
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_port}"

    def url(self, path: str) -> str:
        return self.base + path

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _handler(server: LoopbackServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            return

        def do_GET(self) -> None:
            resource = server.resources.get(self.path.split("?")[0])
            if resource is None:
                return self._plain(404, b"not found")
            resource.hits += 1
            if resource.redirect_to:
                self.send_response(302)
                self.send_header("Location", resource.redirect_to)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return None
            if resource.fail_first > 0:
                resource.fail_first -= 1
                return self._plain(500, b"try again")
            if resource.status != 200:
                return self._plain(resource.status, b"no")
            self._send_body(resource)
            return None

        def _send_body(self, resource: Resource) -> None:
            start, status = 0, 200
            wanted = self.headers.get("Range")
            if_range = self.headers.get("If-Range")
            if wanted and resource.ranges and (if_range in (None, resource.etag)):
                server.range_requests.append(wanted)
                match = re.match(r"bytes=(\d+)-", wanted)
                start = int(match.group(1)) if match else 0
                if start >= len(resource.body):
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{len(resource.body)}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                status = 206
            body = resource.body[start:]
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("ETag", resource.etag)
            self.send_header("Accept-Ranges", "bytes")
            if status == 206:
                self.send_header(
                    "Content-Range", f"bytes {start}-{len(resource.body) - 1}/{len(resource.body)}"
                )
            if resource.disposition:
                self.send_header("Content-Disposition", resource.disposition)
            self.end_headers()
            cut = resource.cut_after
            resource.cut_after = None
            self._write(body, cut, resource.chunk_delay)

        def _write(self, body: bytes, cut: int | None, delay: float) -> None:
            import time

            sent = 0
            step = 64 * 1024
            try:
                while sent < len(body):
                    if cut is not None and sent >= cut:
                        self.connection.shutdown(2)
                        self.close_connection = True
                        return
                    piece = body[sent : sent + step]
                    self.wfile.write(piece)
                    sent += len(piece)
                    if delay:
                        time.sleep(delay)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True

        def do_PUT(self) -> None:
            self._receive("PUT")

        def do_POST(self) -> None:
            self._receive("POST")

        def _receive(self, method: str) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            if server.fail_uploads > 0:
                server.fail_uploads -= 1
                return self._plain(503, b"busy")
            if self.path.startswith("/forbidden"):
                return self._plain(403, b"forbidden")
            entry = {"method": method, "body": body, "headers": dict(self.headers)}
            server.received.setdefault(self.path, []).append(entry)
            return self._plain(201 if method == "PUT" else 200, b"ok")

        def _plain(self, status: int, text: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(text)))
            self.end_headers()
            self.wfile.write(text)

    return Handler


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (at the moment of asking)."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
